"""Toloka as a crowd backend, over its REST API (`https://toloka.dev/api/v1` by default) with httpx.

The batch lives in the answer store like any other (items, golden, answers), so progress, aggregation, the
results page and the worker table treat Tolokers' answers as they treat people in the dashboard. Toloka holds
the pool; `sync` copies its submitted answers into the store, idempotently (an answer copied before is skipped
by the store's one-answer-per-worker rule).

The Toloka project must take `text` and `item` (strings) as input and give `label` (a string) as output.

Toloka keeps a fixed overlap: a pool's tasks are posted with `overlap` answers each, so a batch's adaptive
overlap (`min_answers`, `max_answers`, `stop_confidence`) is not used here; the dashboard refuses the combination.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pandas as pd

from pipelines.core.answer_store import AnswerStore, BatchProgress
from pipelines.core.crowd import Closed, CrowdBatch, CrowdKind, LocalCrowd
from pipelines.core.settings import Settings

API_KEY_VARIABLE = "TOLOKA_API_KEY"
REAL_TASKS_PER_PAGE = 9
GOLDEN_TASKS_PER_PAGE = 1  # one golden item on every page: 10% of what a Toloker sees
ASSIGNMENT_SECONDS = 600
POOL_LIFETIME_DAYS = 30
ANSWERED = "SUBMITTED,ACCEPTED"
SOURCE_PREFIX = "toloka:"


class TolokaError(RuntimeError):
    """Toloka refused or could not be reached; the message says what to do and never holds the key."""


@dataclass(frozen=True)
class TolokaConfig:
    api_key: str
    project_id: str
    base_url: str
    timeout_seconds: float = 30.0

    def __repr__(self) -> str:  # keeps the key out of logs and tracebacks
        return f"TolokaConfig(project_id={self.project_id!r}, base_url={self.base_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, stored_key: str | None) -> TolokaConfig:
        """The configured project with the key from the Secret block (`stored_key`) or `TOLOKA_API_KEY`."""
        api_key = stored_key or os.environ.get(API_KEY_VARIABLE)
        if not settings.toloka_project_id or not api_key:
            raise TolokaError(f"Toloka is not configured: set HITL_TOLOKA_PROJECT_ID and {API_KEY_VARIABLE} (or the "
                              f"Secret block {settings.toloka_secret_block!r}).")
        return cls(api_key, settings.toloka_project_id, settings.toloka_url)


@dataclass(frozen=True)
class SyncResult:
    new_answers: int
    refused: list[str]  # why each refused answer was not stored


class TolokaCrowd:
    """Tolokers label a pool in the configured project; their answers are copied into the answer store."""

    kind: CrowdKind = "toloka"

    def __init__(self, store: AnswerStore, config: TolokaConfig) -> None:
        self.store = store
        self.batches = LocalCrowd(store, source=self.kind)
        self.config = config
        self.http = httpx.Client(base_url=config.base_url.rstrip("/"), timeout=config.timeout_seconds,
                                 headers={"Authorization": f"ApiKey {config.api_key}"})

    def __enter__(self) -> TolokaCrowd:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TolokaError(f"Could not reach Toloka at {self.config.base_url}: {type(exc).__name__}.") from None
        if response.status_code in (401, 403):
            raise TolokaError("Toloka refused the API key: check TOLOKA_API_KEY or the Secret block.")
        if response.status_code >= 400:
            try:
                detail = response.json().get("message", "")
            except ValueError:
                detail = response.text[:200]
            detail = str(detail).replace(self.config.api_key, "<API key>")  # servers may quote the key they got
            raise TolokaError(f"Toloka answered {response.status_code} to {method} {path}: {detail}")
        return response.json() if response.content else None

    def _pool_id(self, batch_id: int) -> str:
        source = self.store.batch_source(batch_id)
        if not source.startswith(SOURCE_PREFIX):
            raise TolokaError(f"Batch {batch_id} was not posted to Toloka.")
        return source.removeprefix(SOURCE_PREFIX)

    def submit(self, batch: CrowdBatch) -> int:
        """Create a pool (reward per page of ten items, overlap, one golden item per page) and its tasks.

        The overlap is always the fixed `batch.overlap`: an adaptive batch is posted with that fixed overlap.
        """
        batch = replace(batch, min_answers=None, max_answers=None, stop_confidence=None)
        batch_id = self.batches.submit(batch)
        try:
            self._post_pool(batch_id, batch)
        except TolokaError:
            # Nobody should answer a half-posted batch: close the pool (if it was created) and the batch.
            if self.store.batch_source(batch_id).startswith(SOURCE_PREFIX):
                try:
                    self._call("POST", f"/pools/{self._pool_id(batch_id)}/close")
                except TolokaError:
                    pass  # the original refusal is the message that matters
            self.store.close(batch_id)
            raise
        return batch_id

    def _post_pool(self, batch_id: int, batch: CrowdBatch) -> None:
        pool = self._call("POST", "/pools", json={
            "project_id": self.config.project_id,
            "private_name": f"hitl-studio crowd batch {batch_id}",
            "may_contain_adult_content": True,
            "will_expire": (datetime.now(timezone.utc) + timedelta(days=POOL_LIFETIME_DAYS)).strftime(
                "%Y-%m-%dT%H:%M:%S"),
            "reward_per_assignment": round(batch.reward_per_answer * (REAL_TASKS_PER_PAGE + GOLDEN_TASKS_PER_PAGE),
                                           2),
            "assignment_max_duration_seconds": ASSIGNMENT_SECONDS,
            "defaults": {"default_overlap_for_new_tasks": batch.overlap,
                         "default_overlap_for_new_task_suites": batch.overlap},
            "mixer_config": {"real_tasks_count": REAL_TASKS_PER_PAGE, "golden_tasks_count": GOLDEN_TASKS_PER_PAGE,
                             "training_tasks_count": 0},
        })
        pool_id = str(pool["id"])
        self.store.set_source(batch_id, SOURCE_PREFIX + pool_id)
        tasks = [{"pool_id": pool_id, "input_values": {"text": row.text, "item": str(row.task)},
                  "overlap": batch.overlap} for row in batch.tasks.itertuples()]
        tasks += [{"pool_id": pool_id, "input_values": {"text": row.text, "item": str(row.task)},
                   "known_solutions": [{"output_values": {"label": row.label}, "correctness_weight": 1}],
                   "infinite_overlap": True} for row in batch.golden.itertuples()]
        created = self._call("POST", "/tasks", params={"allow_defaults": "true", "open_pool": "true"}, json=tasks)
        errors = (created or {}).get("validation_errors") or {}
        if errors:
            index, problem = next(iter(errors.items()))
            raise TolokaError(f"Toloka refused {len(errors)} of {len(tasks)} tasks in pool {pool_id}; task {index}: "
                              f"{problem}. Does the project take `text` and `item` as input and give `label`?")

    def sync(self, batch_id: int) -> SyncResult:
        """Copy the pool's submitted answers into the store.

        Answers the store refuses (a label outside the batch's labels, an item not in it) are counted, not
        stored, so one Toloker's odd answer never stops the batch.
        """
        pool_id, new, refused, last_id = self._pool_id(batch_id), 0, [], None
        while True:
            params = {"pool_id": pool_id, "status": ANSWERED, "sort": "id", "limit": 500}
            if last_id is not None:
                params["id_gt"] = last_id
            page = self._call("GET", "/assignments", params=params)
            for assignment in page.get("items", []):
                last_id = assignment["id"]
                worker = f"toloka-{assignment['user_id']}"
                for task, solution in zip(assignment.get("tasks", []), assignment.get("solutions", [])):
                    item = str(task.get("input_values", {}).get("item"))
                    label = str(solution.get("output_values", {}).get("label"))
                    try:
                        new += self.store.record_answer(batch_id, item, worker, label) == "stored"
                    except ValueError as exc:
                        refused.append(str(exc))
            if not page.get("has_more"):
                return SyncResult(new, refused)

    def progress(self, batch_id: int) -> BatchProgress:
        self.sync(batch_id)
        return self.batches.progress(batch_id)

    def answers(self, batch_id: int) -> pd.DataFrame:
        return self.batches.answers(batch_id)

    def close(self, batch_id: int) -> Closed:
        """Stop the pool first, so no answer lands after the last copy; copy the answers; close the batch."""
        self._call("POST", f"/pools/{self._pool_id(batch_id)}/close")
        collected = self.sync(batch_id)
        self.batches.close(batch_id)
        return Closed(collected.new_answers, tuple(collected.refused))
