"""A simulated crowd for demos, benchmarks and tests: honest workers of varied accuracy, spammers, adversaries.

Every worker id starts with `sim-`, so simulated answers are recognisable wherever they end up.
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

    def __post_init__(self) -> None:
        if self.n_workers < 1 or not 0 <= self.spammer_share + self.adversarial_share <= 1:
            raise ValueError("Need at least one worker, and spammer + adversarial shares between 0 and 1.")

    def workers(self) -> pd.DataFrame:
        """Each worker's kind and accuracy (for honest workers, drawn from a clipped normal)."""
        rng = np.random.default_rng(self.seed)
        n_spam = round(self.spammer_share * self.n_workers)
        n_adversarial = round(self.adversarial_share * self.n_workers)
        kinds = ["spammer"] * n_spam + ["adversarial"] * n_adversarial
        kinds += ["honest"] * (self.n_workers - len(kinds))
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
