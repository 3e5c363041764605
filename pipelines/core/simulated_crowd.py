"""A simulated crowd for demos, benchmarks and tests: honest workers of varied accuracy, spammers, adversaries.

Every worker id starts with `sim-`, so simulated answers are recognisable wherever they end up. Honest workers'
accuracies come from a clipped normal, or are resampled from a real crowd's per-worker accuracies
(`real_worker_accuracies`), so a benchmark's crowd is as good or as bad as people really were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SIMULATED_PREFIX = "sim-"


@dataclass(frozen=True)
class SimulatedCrowd:
    n_workers: int = 10
    accuracy_mean: float = 0.8
    accuracy_sd: float = 0.08
    spammer_share: float = 0.0
    adversarial_share: float = 0.0
    seed: int = 0
    # When given, honest workers' accuracies are drawn from these (with replacement) instead of the normal.
    accuracies: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.n_workers < 1 or not 0 <= self.spammer_share + self.adversarial_share <= 1:
            raise ValueError("Need at least one worker, and spammer + adversarial shares between 0 and 1.")
        if any(not 0 <= accuracy <= 1 for accuracy in self.accuracies):
            raise ValueError("Worker accuracies must lie between 0 and 1.")

    def workers(self) -> pd.DataFrame:
        """Each worker's kind and accuracy (for honest workers, resampled from `accuracies` or drawn from a
        clipped normal)."""
        rng = np.random.default_rng(self.seed)
        n_spam = round(self.spammer_share * self.n_workers)
        n_adversarial = round(self.adversarial_share * self.n_workers)
        kinds = ["spammer"] * n_spam + ["adversarial"] * n_adversarial
        kinds += ["honest"] * (self.n_workers - len(kinds))
        if self.accuracies:
            accuracy = rng.choice(np.asarray(self.accuracies, dtype=float), size=self.n_workers, replace=True)
        else:
            accuracy = np.clip(rng.normal(self.accuracy_mean, self.accuracy_sd, self.n_workers), 0.5, 0.99)
        return pd.DataFrame({"worker": [f"{SIMULATED_PREFIX}{i:03d}" for i in range(self.n_workers)],
                             "kind": kinds, "accuracy": accuracy})

    def answer(self, truth: pd.Series, labels: Sequence[str], overlap: int = 3) -> pd.DataFrame:
        """`overlap` distinct workers answer each task; returns `task, worker, label`."""
        if overlap > self.n_workers:
            raise ValueError(f"Overlap {overlap} needs at least that many workers (have {self.n_workers}).")
        rng = np.random.default_rng(self.seed + 1)
        workers = self.workers()
        labels = list(labels)
        unknown = set(truth) - set(labels)
        if unknown:
            raise ValueError(f"True labels {sorted(map(str, unknown))} are not among the labels {labels}.")
        # Vectorised so a million answers take a moment: each row picks `overlap` distinct workers.
        picks = np.argsort(rng.random((len(truth), self.n_workers)), axis=1)[:, :overlap]
        true_index = np.repeat(truth.map({label: i for i, label in enumerate(labels)}).to_numpy()[:, None],
                               overlap, axis=1)
        kind = workers.kind.to_numpy()[picks]
        wrong = (true_index + rng.integers(1, len(labels), size=picks.shape)) % len(labels)
        spam = rng.integers(len(labels), size=picks.shape)
        honest_right = rng.random(picks.shape) < workers.accuracy.to_numpy()[picks]
        given = np.where(kind == "spammer", spam,
                         np.where(kind == "adversarial", wrong, np.where(honest_right, true_index, wrong)))
        return pd.DataFrame({
            "task": np.repeat(truth.index.to_numpy(), overlap),
            "worker": workers.worker.to_numpy()[picks].ravel(),
            "label": np.asarray(labels, dtype=object)[given.ravel()],
        })


def real_worker_accuracies(answers: pd.DataFrame, truth: pd.Series, min_answers: int = 20) -> np.ndarray:
    """Each real worker's accuracy on tasks with a known truth (`answers`: task, worker, label; `truth` indexed by
    task), for workers with at least `min_answers` such answers (fewer say little about the worker)."""
    scored = answers.assign(truth=answers.task.map(truth)).dropna(subset=["truth"])
    per_worker = (scored.label.astype(str) == scored.truth.astype(str)).groupby(scored.worker).agg(["mean", "size"])
    kept = per_worker[per_worker["size"] >= min_answers]["mean"].to_numpy(dtype=float)
    if kept.size == 0:
        raise ValueError(f"No worker has {min_answers} or more answers on tasks with a known truth.")
    return kept
