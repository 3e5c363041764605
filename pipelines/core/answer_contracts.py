"""What the answer store hands out: open batches, their progress, the item an annotator is served, what became of
an answer, and the error a store that cannot be reached raises. Pages, flows and crowd backends rely on these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# What became of a submitted answer: kept; this worker had answered already; the item had its `overlap`
# answers (or, adaptive, needed no more) from others meanwhile; the batch was closed.
AnswerOutcome = Literal["stored", "duplicate", "full", "closed"]


class AnswerStoreUnavailable(RuntimeError):
    """The answer database cannot be opened (a wrong URL, a missing driver) or did not answer (down, restarting,
    unreachable); nothing was changed by the call, and the message says what to do.

    An answer whose commit was cut off may have been stored: sending it again is safe (it comes back
    "duplicate", never stored twice).
    """


@dataclass(frozen=True)
class Batch:
    """An open batch as pages and crowd sync see it: its labels, overlap, the run waiting for it and its source."""

    id: int
    labels: tuple[str, ...]
    overlap: int  # an adaptive batch's most answers per item
    owner: str | None  # the run waiting for the batch (a flow run id), told of progress and completion
    source: str  # `local`, `simulated`, or `toloka:<pool id>`


@dataclass(frozen=True)
class BatchProgress:
    """Answers given and needed on a batch's task items (golden answers are extra)."""

    answers: int
    needed: int  # for an adaptive batch, the answers given plus an estimate of those left
    tasks: int
    left: int | None = None  # an adaptive batch's estimate of the answers still to come; None for a fixed overlap

    @property
    def adaptive(self) -> bool:
        return self.left is not None

    @property
    def complete(self) -> bool:
        """The batch's one completion rule: every answer it needs is in."""
        return self.answers >= self.needed

    @property
    def share(self) -> float:
        """How far along the batch is, 0 to 1, for a progress bar."""
        return min(1.0, self.answers / max(self.needed, 1))

    def describe(self) -> str:
        """E.g. "12 of 30 answers", or for an adaptive batch "12 answers given, about 9 more expected"."""
        if self.adaptive:
            return f"{self.answers} answers given, about {max(0, self.needed - self.answers)} more expected"
        return f"{self.answers} of {self.needed} answers"


@dataclass(frozen=True)
class ServedItem:
    """What an annotator sees: the item and nothing about its answers or whether it is golden."""

    task: str
    text: str
