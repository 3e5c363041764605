"""Review datasets for the autohelper: choose the text and label columns, map labels, clean the rows, and split
them into tasks and golden items.

Reading files is `review_files`; the project's generated sample is `review_sample`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

DEFAULT_TEXT_COLUMN = "reviews.text"
DEFAULT_LABEL_COLUMN = "reviews.doRecommend"

GoldenDraw = Literal["stratified", "balanced"]
GOLDEN_DRAWS: tuple[GoldenDraw, ...] = ("stratified", "balanced")
MIN_GOLDEN = 100
GOLDEN_PERCENT = 10
MIN_GOLDEN_PER_CLASS = 2  # the few-shot head is fitted and cross-validated on golden items: two of a class at least
FEW_GOLDEN_PER_CLASS = 5  # below it, golden accuracy on that class is barely measured
# The seed project's split, offered as a preset: too little golden evidence for a trustworthy threshold.
SEED_PRESET: Mapping[str, Any] = MappingProxyType({"n_tasks": 200, "n_golden": 20, "golden_draw": "balanced"})

MAX_PROPOSED_LABELS = 20
MAX_COLUMN_NAME_CHARS = 1_000  # a longer "header" is data: every message and picker would quote it whole
_POSITIVE = {"1", "true", "yes", "positive", "pos"}
_NEGATIVE = {"0", "false", "no", "negative", "neg"}


class DatasetProblem(ValueError):
    """A dataset the autohelper cannot use; the message says what to change."""


class DatasetUnavailable(DatasetProblem):
    """The dataset could not be read from where it was asked for."""


class DatasetLocationRefused(DatasetProblem):
    """A local dataset path that climbs out with `..` or lies outside the folders datasets may be read from."""


def check_dataset_location(location: str, allowed_folders: Sequence[Path] | None) -> None:
    """Refuse a local path with a `..` part, and, when `allowed_folders` is given, one outside all of them.

    URLs pass (they are fetched, not opened). Symlinks are resolved first, so a link cannot lead outside.

    Raises:
        DatasetLocationRefused: the message names the path and the folders it may be in.
    """
    if location.startswith(("http://", "https://")):
        return
    if ".." in Path(location).parts:
        raise DatasetLocationRefused(f"The dataset path {location!r} contains '..': give the file's own path.")
    if allowed_folders is None:
        return
    resolved = Path(location).expanduser().resolve()
    if not any(resolved.is_relative_to(Path(folder).expanduser().resolve()) for folder in allowed_folders):
        raise DatasetLocationRefused(
            f"The dataset path {location!r} is outside the folders datasets may be read from "
            f"({', '.join(str(folder) for folder in allowed_folders)}): move the file there or upload it.")


@dataclass(frozen=True)
class PreparedDataset:
    """Tasks for the model (and later people), golden items with known labels, and what to know about them."""

    tasks: pd.DataFrame  # item_id, text, label (the true label when the file has one, else missing)
    golden: pd.DataFrame  # item_id, text, label
    report: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def suggest_columns(frame: pd.DataFrame) -> tuple[str, str]:
    """The text and label columns to offer first.

    The seed dataset's names when present; else the column of texts with the longest values, and among the
    other columns the one with the fewest distinct values (two at least, when a column has them). A one-column
    file offers its column for both.
    """
    columns = list(frame.columns)
    text = DEFAULT_TEXT_COLUMN if DEFAULT_TEXT_COLUMN in columns else max(
        columns, key=lambda column: _text_length(frame[column]))
    if DEFAULT_LABEL_COLUMN in columns:
        return text, DEFAULT_LABEL_COLUMN
    others = [column for column in columns if column != text] or [text]
    return text, min(others, key=lambda c: (frame[c].nunique() < 2, frame[c].nunique()))


def _text_length(values: pd.Series) -> float:
    """The mean length of a column's texts; -1 for a column holding anything else (numbers, booleans) or nothing."""
    present = values.dropna()
    if present.empty or not present.map(lambda value: isinstance(value, str)).all():
        return -1.0
    return float(present.str.len().mean())


def propose_label_map(values: pd.Series) -> dict[str, str]:
    """Propose how a label column's values become labels, from the values it actually holds.

    0/1, true/false (any case, or a boolean column), yes/no, positive/negative and pos/neg become `pos`/`neg`;
    other values map to themselves, lower-cased and stripped, so `pos, neg, neutral` keeps three classes.
    Positive labels come first, then negative, then the rest.

    Raises:
        DatasetProblem: the column holds no values, or more distinct values than a label column plausibly has.
    """
    written: dict[str, str] = {}  # match key -> the value as the file writes it
    for value in pd.unique(values.dropna()):
        text = _label_text(value)
        if text:
            written.setdefault(text.lower(), text)
    if not written:
        raise DatasetProblem(f"Column {values.name!r} holds no values to use as labels; pick the label column.")
    if len(written) > MAX_PROPOSED_LABELS:
        raise DatasetProblem(f"Column {values.name!r} holds {len(written)} distinct values, more than a label column "
                             "usually has: pick the column with the labels, or type the mapping.")
    numbers_beyond_0_1 = all(_is_number(key) for key in written) and not set(written) <= {"0", "1"}

    def label(key: str) -> str:
        if numbers_beyond_0_1:  # e.g. star ratings: which are positive is the analyst's call
            return key
        return "pos" if key in _POSITIVE else "neg" if key in _NEGATIVE else key

    proposal = {text: label(key) for key, text in written.items()}
    rank = {"pos": 0, "neg": 1}
    return dict(sorted(proposal.items(), key=lambda item: (rank.get(item[1], 2), item[1], item[0])))


def format_label_map(mapping: Mapping[Any, str]) -> str:
    """Write a mapping the way `parse_label_map` reads it, e.g. `1=pos, 0=neg`."""
    return ", ".join(f"{_label_text(key)}={label}" for key, label in mapping.items())


def _label_text(value: Any) -> str:
    """A label value as written: `True` for a boolean, `1` for the float 1.0 (a column with gaps), else stripped."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _label_key(value: Any) -> str:
    """How a value is matched to a mapping's key: `True`, `true` and ` TRUE ` alike; 1, 1.0 and "1" alike."""
    return _label_text(value).lower()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def default_golden_size(n_usable_rows: int) -> int:
    """max(100, 10% of the usable rows, rounded up), capped so the tasks keep at least one row."""
    return min(_recommended_golden_size(n_usable_rows), max(n_usable_rows - 1, 0))


def _recommended_golden_size(n_usable_rows: int) -> int:
    return max(MIN_GOLDEN, -(-n_usable_rows * GOLDEN_PERCENT // 100))


def check_columns(frame: pd.DataFrame, text_column: str, label_column: str) -> None:
    """Refuse a text or label column the file does not have, and one column used as both.

    Raises:
        DatasetProblem: naming the columns the file has, or what to pick instead.
    """
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise DatasetProblem(f"Column(s) {', '.join(map(repr, missing))} not found. The file has: "
                             f"{', '.join(map(str, frame.columns))}.")
    if text_column == label_column:
        # A review text as its own label would make every review a class of its own.
        raise DatasetProblem(f"Column {text_column!r} cannot be both the text and the label column: " + (
            "the file has no other column. Check the delimiter, or add a column with the labels."
            if frame.shape[1] == 1 else "pick the column with the labels."))


def prepare_dataset(
    frame: pd.DataFrame,
    text_column: str = DEFAULT_TEXT_COLUMN,
    label_column: str = DEFAULT_LABEL_COLUMN,
    label_map: Mapping[Any, str] | None = None,
    n_tasks: int | None = None,
    n_golden: int | None = None,
    seed: int = 0,
    golden_draw: GoldenDraw = "stratified",
) -> PreparedDataset:
    """Drop empty texts and duplicates, then split, seeded, into golden items and tasks that keep every class.

    Args:
        frame: the reviews, one per row.
        text_column: the column with the review text.
        label_column: the column with the known labels (missing or unmapped values leave a review unlabelled).
        label_map: how the label column's values become labels; None takes `propose_label_map`'s proposal.
        n_tasks: tasks to draw; None makes every usable row that is not golden a task.
        n_golden: golden items to draw; None takes `default_golden_size` of the usable rows.
        seed: the seed of every draw.
        golden_draw: `stratified` keeps the data's class shares (each class gets at least two golden items
            when it has the rows); `balanced` draws the classes as equally as the data allows (the seed's way).

    Raises:
        DatasetProblem: with what to change: columns missing, non-text reviews, too few rows, fewer than two
            classes under the mapping (naming the values seen and the mapping applied), a class the tasks
            could not keep.
    """
    check_columns(frame, text_column, label_column)
    if golden_draw not in GOLDEN_DRAWS:
        raise DatasetProblem(f"Golden draw {golden_draw!r} should be one of {', '.join(GOLDEN_DRAWS)}.")
    mapping = dict(label_map) if label_map is not None else propose_label_map(frame[label_column])
    keyed = {_label_key(key): label for key, label in mapping.items()}
    data, report = _clean(frame[text_column], frame[label_column], keyed)
    classes = sorted(data.label.dropna().unique())
    if len(classes) < 2:
        found = f"a single class ({classes[0]!r})" if classes else "no label at all"
        raise DatasetProblem(f"With the mapping `{format_label_map(mapping)}`, column {label_column!r} gives {found}; "
                             f"the golden set needs two classes at least (values seen: "
                             f"{_values_seen(frame[label_column])}). Change the mapping or pick the label column.")
    golden_size = default_golden_size(len(data)) if n_golden is None else n_golden
    if golden_size < 2:
        raise DatasetProblem(f"{golden_size} golden items cannot measure the model; ask for 2 at least.")
    if n_tasks is not None and len(data) < n_tasks + golden_size:
        raise DatasetProblem(f"Only {len(data)} usable reviews, fewer than the {n_tasks} tasks + {golden_size} golden "
                             "items asked for. Ask for fewer.")
    golden = _draw_golden(data, golden_size, seed, golden_draw, capped=n_golden is None)
    rest = data.drop(golden.index)
    if n_tasks is None:
        tasks = rest.sample(frac=1, random_state=seed)
    elif n_tasks < len(classes):
        raise DatasetProblem(f"{n_tasks} tasks cannot hold one review of each of the {len(classes)} classes "
                             f"({', '.join(classes)}); ask for {len(classes)} tasks at least.")
    else:
        tasks = _stratified_draw(rest, n_tasks, seed, minimum_per_class=1)
    ids = {index: f"r{index}" for index in data.index}
    return PreparedDataset(
        tasks=tasks.assign(item_id=tasks.index.map(ids))[["item_id", "text", "label"]].reset_index(drop=True),
        golden=golden.assign(item_id=golden.index.map(ids))[["item_id", "text", "label"]].reset_index(drop=True),
        report=report,
        warnings=_split_warnings(golden, classes, len(data), _unmapped(frame[label_column], keyed)),
    )


def _clean(texts: pd.Series, values: pd.Series, keyed: Mapping[str, str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Texts stripped, labels mapped, empty texts and duplicates dropped; what was dropped, counted."""
    non_text = [value for value in texts.dropna() if not isinstance(value, str)]
    if non_text:
        raise DatasetProblem(f"Column {texts.name!r} holds non-text values (e.g. {non_text[0]!r}); pick the "
                             "column with the review text.")
    labels = values.map(lambda value: keyed.get(_label_key(value)) if pd.notna(value) else None)
    data = pd.DataFrame({"text": texts.fillna("").astype(str).str.strip(), "label": labels})
    if not data.index.is_unique:  # item ids are made from the row index
        data = data.reset_index(drop=True)
    report = {"rows": len(data), "empty_texts": int((data.text == "").sum())}
    data = data[data.text != ""]
    before = len(data)
    data = data.drop_duplicates("text")
    report["duplicates"] = before - len(data)
    report["unlabelled"] = int(data.label.isna().sum())
    if data.empty:
        raise DatasetProblem("Nothing is left after dropping empty texts and duplicates.")
    return data, report


def _draw_golden(data: pd.DataFrame, n: int, seed: int, how: GoldenDraw, capped: bool) -> pd.DataFrame:
    """Golden items from the labelled rows, one row of each class held back so the tasks keep every class."""
    labelled = data.dropna(subset=["label"]).sample(frac=1, random_state=seed)
    pool = labelled[labelled.groupby("label").cumcount() > 0]
    if n > len(pool):
        if not capped:
            raise DatasetProblem(f"Only {len(pool)} labelled reviews can be golden (one of each class stays among "
                                 f"the tasks); ask for {len(pool)} golden items at most.")
        n = len(pool)
    if n < MIN_GOLDEN_PER_CLASS:
        raise DatasetProblem(f"Only {len(pool)} labelled review(s) can be golden (one of each class stays among the "
                             f"tasks); the model needs {MIN_GOLDEN_PER_CLASS} golden items at least to be measured. "
                             "Add labelled reviews.")
    if how == "balanced":
        return _balanced_draw(pool, n, seed)
    return _stratified_draw(pool, n, seed, minimum_per_class=MIN_GOLDEN_PER_CLASS)


def _stratified_draw(data: pd.DataFrame, n: int, seed: int, minimum_per_class: int) -> pd.DataFrame:
    """`n` rows keeping each class's share of `data` to within a row, seeded; unlabelled rows are a stratum too.

    Each labelled class first gets up to `minimum_per_class` rows. Then rows are taken in the order of
    (rank within their class + 0.5) / class size, which takes every class at the same rate.
    """
    shuffled = data.sample(frac=1, random_state=seed)
    by_class = shuffled.groupby("label", dropna=False)
    rank = by_class.cumcount()
    order = (rank + 0.5) / by_class["text"].transform("size")
    first = shuffled.label.notna() & (rank < minimum_per_class)
    order[first] = rank[first] - minimum_per_class  # before every other row: each class's first, then second
    picked = shuffled.loc[order.sort_values(kind="stable").index[:n]]  # stable: ties stay in the seeded order
    return picked.sample(frac=1, random_state=seed)


def _balanced_draw(data: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """`n` rows with the classes as equal as the data allows, seeded."""
    groups = {label: rows.sample(frac=1, random_state=seed) for label, rows in data.groupby("label")}
    per_class = {label: 0 for label in groups}
    order = itertools.cycle(sorted(groups))
    while sum(per_class.values()) < n:
        label = next(order)
        if per_class[label] < len(groups[label]):
            per_class[label] += 1
        elif all(per_class[k] >= len(groups[k]) for k in groups):
            break
    picked = pd.concat([groups[label].head(count) for label, count in per_class.items()])
    return picked.sample(frac=1, random_state=seed)


def _split_warnings(golden: pd.DataFrame, classes: list[str], usable: int, unmapped: list[str]) -> list[str]:
    recommended = _recommended_golden_size(usable)
    warnings = []
    if len(golden) < recommended:
        warnings.append(f"Only {len(golden)} golden items: under the recommended max({MIN_GOLDEN}, {GOLDEN_PERCENT}% "
                        f"of rows) = {recommended}; thresholds will rest on thin evidence.")
    per_class = golden.label.value_counts()
    for label in classes:
        count = int(per_class.get(label, 0))
        if count < FEW_GOLDEN_PER_CLASS:
            warnings.append(f"Class {label!r} has {count} golden item{'s' * (count != 1)} (under "
                            f"{FEW_GOLDEN_PER_CLASS}): the model's accuracy on it is barely measured.")
    if unmapped:
        warnings.append(f"The mapping gives no label to the value(s) {_listed(unmapped)}: those reviews can be "
                        "tasks but never golden items.")
    return warnings


def _unmapped(values: pd.Series, keyed: Mapping[str, str]) -> list[str]:
    """The values, as written, that the mapping leaves without a label."""
    return sorted({_label_text(value) for value in pd.unique(values.dropna())
                   if _label_key(value) not in keyed and _label_text(value)})


def _values_seen(values: pd.Series) -> str:
    return _listed(list(dict.fromkeys(_label_text(value) for value in pd.unique(values.dropna())))) or "none"


def _listed(values: list[str], shown: int = 8) -> str:
    more = f" and {len(values) - shown} more" if len(values) > shown else ""
    return ", ".join(values[:shown]) + more


def parse_label_map(text: str) -> dict[str, str]:
    """Read a mapping written as `True=pos, False=neg`."""
    mapping = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise DatasetProblem(f"Label mapping {pair!r} should look like `value=label`, e.g. `True=pos, False=neg`.")
        mapping[key.strip()] = value.strip()
    if len(set(mapping.values())) < 2:
        raise DatasetProblem("The label mapping needs at least two labels, e.g. `True=pos, False=neg`.")
    return mapping
