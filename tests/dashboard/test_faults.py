"""Faults at the dashboard's side of a pause: the dashboard restarted while an analyst fills a form, and two
resumes of one pause at once (AppTest and the gateway against the session's real backend)."""

from __future__ import annotations

import threading
from uuid import UUID

import pytest

from dashboard import gateway
from pipelines.catalog import INGESTION
from tests.conftest import wait_for_pending_input, wait_for_status
from tests.dashboard.apptest import page_app, submit

pytestmark = [pytest.mark.fault, pytest.mark.usefixtures("backend")]


def _ingestion_page(run_id: UUID, analyst: str) -> object:
    """A fresh dashboard session (a restarted server has no other) opened on the run's address, as a reload."""
    app = page_app("views/ingestion.py", analyst=analyst)
    app.query_params["run"] = str(run_id)
    app.run()
    assert not app.exception, app.exception
    return app


def _users_received(run_id: UUID) -> int:
    done = wait_for_status(run_id, {"completed", "failed", "crashed"}, timeout=120)
    assert done.status == "completed", done.message
    return len(gateway.result(run_id)["users"])


def test_a_dashboard_restarted_mid_form_redraws_it_from_the_pause_and_resumes_with_what_is_submitted_after(
        randomuser, record_property) -> None:
    run_id = gateway.start_run(INGESTION, {"select_features": False})
    pending = wait_for_pending_input(run_id)
    field = f"ingestion.{run_id}.pause.number_of_users"

    before = _ingestion_page(run_id, analyst="ana")
    before.text_input(key=field).set_value("5").run()  # typed, not submitted, when the dashboard restarts
    assert gateway.run(run_id).status == "paused"

    after = _ingestion_page(run_id, analyst="ana")  # the restarted dashboard: a new session, nothing kept
    default = pending.schema["properties"]["number_of_users"]["default"]
    assert after.text_input(key=field).value == str(default)  # the form is the pause's, drawn again
    after.text_input(key=field).set_value("7")
    submit(after)
    # The page's own "Resumed." can be replaced at once by its live view of the now running run: the truth is what
    # the run received (below), and that no error or refusal was shown.
    assert not after.exception and not after.error and not after.warning, (
        [e.value for e in [*after.success, *after.error, *after.warning, *after.info]])
    assert wait_for_status(run_id, {"running", "completed"}, timeout=60).status in {"running", "completed"}

    submit(before)  # the form from before the restart, sent late: refused with a message, nothing sent
    assert not before.exception
    assert any("no longer waiting" in w.value for w in before.warning)

    received = _users_received(run_id)
    record_property("answers_lost", int(received != 7))
    record_property("answers_doubled", 0)
    assert received == 7
    [decision] = [a for a in gateway.artifacts(run_id) if a.key == "audit-trail"]
    assert decision.data[0]["resumed_by"] == "ana"


def _race(run_id: UUID, counts: tuple[int, int]) -> list[object]:
    """Two resumes of the run's pause sent at the same moment; what each got back (values or exception)."""
    start = threading.Barrier(len(counts))
    outcomes: list[object] = [None] * len(counts)

    def resume(slot: int) -> None:
        start.wait()
        try:
            outcomes[slot] = gateway.resume(run_id, {"number_of_users": counts[slot]}, analyst=f"analyst {slot}")
        except Exception as exc:  # noqa: BLE001 (the test reports whatever each got)
            outcomes[slot] = exc

    threads = [threading.Thread(target=resume, args=(slot,)) for slot in range(len(counts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_resumes_of_one_pause_at_once_one_wins_the_other_is_told_plainly(randomuser, record_property) -> None:
    runs = [gateway.start_run(INGESTION, {"select_features": False}) for _ in range(3)]
    for run_id in runs:
        wait_for_pending_input(run_id)
    lost = doubled = 0
    for run_id in runs:
        outcomes = _race(run_id, (3, 4))
        winners = [slot for slot, outcome in enumerate(outcomes) if isinstance(outcome, dict)]
        losers = [outcome for outcome in outcomes if not isinstance(outcome, dict)]
        assert len(winners) == 1, outcomes
        [loser] = losers
        assert isinstance(loser, gateway.PauseStale), repr(loser)
        assert "no longer waiting" in str(loser) or "did not resume" in str(loser)
        received = _users_received(run_id)
        lost += received != (3, 4)[winners[0]]
        doubled += len(winners) > 1
    record_property("answers_lost", lost)
    record_property("answers_doubled", doubled)
    assert lost == 0
