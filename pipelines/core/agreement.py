"""How much people agree, with crowd-kit's metrics: Krippendorff's alpha for a batch, and each item's uncertainty.

Both are measured on people's answers only; the model's votes (see `pipelines.core.model_votes`) are left out.
Alpha is agreement beyond chance: 1 is perfect, 0 is what chance alone gives. Crowd-kit reads alpha >= 0.8 as
reliable and alpha >= 0.667 as enough for tentative conclusions only. An item's uncertainty is the entropy (natural
log) of its answers' label shares, every worker weighted alike: 0 when all agree, ln 2 ≈ 0.69 when two labels split
evenly.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipelines.core.aggregation import validate_answers
from pipelines.core.model_votes import human_answers

RELIABLE_ALPHA = 0.8
TENTATIVE_ALPHA = 0.667


@dataclass(frozen=True)
class Agreement:
    """A batch's agreement: Krippendorff's alpha (NaN when no item has two answers) and what it means."""

    alpha: float
    reading: str


def krippendorff_alpha(answers: pd.DataFrame) -> float:
    """Krippendorff's alpha (crowd-kit, binary distance) of people's answers; NaN when no item has two answers."""
    from crowdkit.metrics.data import alpha_krippendorff

    people = human_answers(validate_answers(answers))
    if not people.task.duplicated().any():
        return float("nan")  # alpha compares answers on the same item: one answer each leaves nothing to compare
    if people.label.nunique() == 1:
        return 1.0  # one label everywhere: no disagreement, though nothing shows people can tell labels apart
    return float(alpha_krippendorff(people))


def alpha_reading(alpha: float) -> str:
    """Alpha in plain words, by crowd-kit's reading of it."""
    if pd.isna(alpha):
        return "Agreement cannot be measured: no item has two answers from people yet."
    if alpha >= RELIABLE_ALPHA:
        return f"People agree well beyond chance (alpha {alpha:.2f} ≥ {RELIABLE_ALPHA}): the labels are reliable."
    if alpha >= TENTATIVE_ALPHA:
        return (f"People mostly agree (alpha {alpha:.2f}, between {TENTATIVE_ALPHA} and {RELIABLE_ALPHA}): good "
                "enough for tentative conclusions only; look at the most uncertain items.")
    if alpha > 0:
        return (f"People often disagree (alpha {alpha:.2f} < {TENTATIVE_ALPHA}): the labels are unreliable. Check "
                "the instructions and the workers, or ask for more answers per item.")
    return (f"People agree no more than chance would (alpha {alpha:.2f}): the answers say nothing about the labels. "
            "Check who answered and what they were shown.")


def batch_agreement(answers: pd.DataFrame) -> Agreement:
    """A batch's alpha and its reading."""
    alpha = krippendorff_alpha(answers)
    return Agreement(alpha, alpha_reading(alpha))


def item_uncertainty(answers: pd.DataFrame) -> pd.Series:
    """Each item's uncertainty (crowd-kit, every worker weighted alike), indexed by task, named `uncertainty`."""
    from crowdkit.metrics.data import uncertainty

    people = human_answers(validate_answers(answers))
    return uncertainty(people, compute_by="task", aggregate=False).clip(lower=0.0).rename("uncertainty")


def disagreement_list(answers: pd.DataFrame, final: pd.DataFrame, uncertainty: pd.Series | None = None,
                      ) -> pd.DataFrame:
    """The items people's answers disagree on, most uncertain first: the final table's `item, text, label,
    source`, with `answers` (how many), `votes` (e.g. "neg 2 · pos 1") and `uncertainty` (`item_uncertainty`
    of the answers, computed here unless given)."""
    people = human_answers(validate_answers(answers)).assign(task=lambda frame: frame.task.astype(str))
    spread = item_uncertainty(people) if uncertainty is None else uncertainty.set_axis(uncertainty.index.astype(str))
    disputed = spread[people.groupby("task").label.nunique().reindex(spread.index) > 1]
    counts = people[people.task.isin(disputed.index)].groupby(["task", "label"]).size()
    votes = {task: " · ".join(f"{label} {n}" for label, n in group.droplevel("task").sort_values(
        ascending=False).items()) for task, group in counts.groupby(level="task")}
    rows = final.assign(key=final.item.astype(str))
    rows = rows[rows.key.isin(disputed.index)][["item", "text", "label", "source", "key"]]
    rows["answers"] = rows.key.map(people.groupby("task").size()).astype(int)
    rows["votes"] = rows.key.map(votes)
    rows["uncertainty"] = rows.key.map(disputed).astype(float)
    return rows.drop(columns="key").sort_values("uncertainty", ascending=False, kind="stable").reset_index(drop=True)
