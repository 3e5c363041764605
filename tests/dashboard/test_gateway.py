"""The gateway on a real backend: one Prefect client per API URL, shared by every call and every page thread."""

from __future__ import annotations

import threading

import pytest

from dashboard import gateway


@pytest.fixture
def counted_clients(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """No client built yet; every client the gateway builds from here on is listed."""
    built: list[object] = []
    real = gateway.get_client

    def counting(*args: object, **kwargs: object) -> object:
        built.append(client := real(*args, **kwargs))
        return client

    monkeypatch.setattr(gateway, "_clients", {})
    monkeypatch.setattr(gateway, "get_client", counting)
    return built


def test_calls_from_many_threads_share_one_client_and_all_get_their_answers(backend: object,
                                                                            counted_clients: list[object]) -> None:
    from pipelines.catalog import INGESTION

    run_id = gateway.start_run(INGESTION)
    seen: list[tuple[object, int]] = []
    failures: list[BaseException] = []

    def page() -> None:
        try:
            for _ in range(5):
                seen.append((gateway.run(run_id).id, len(gateway.artifacts(run_id))))
                gateway.waiting_count()
        except BaseException as exc:  # noqa: BLE001  # reported below, with the thread's other calls
            failures.append(exc)

    threads = [threading.Thread(target=page) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(seen) == 40 and {run for run, _ in seen} == {run_id}
    assert len(counted_clients) == 1


def test_another_api_url_gets_its_own_client(backend: object, counted_clients: list[object],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with gateway._client() as first, gateway._client() as again:
        assert first is again
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    with gateway._client() as other:
        assert other is not first and str(other._client.base_url).startswith("http://127.0.0.1:9/api")
    assert len(counted_clients) == 2


def test_a_run_says_who_started_it_and_a_run_started_by_no_one_says_no_one(backend: object) -> None:
    from pipelines.catalog import INGESTION
    from tests.conftest import wait_for_pending_input, wait_for_status

    who = "https://id.example.org|u-1001 (Ada Analyst)"
    started = gateway.start_run(INGESTION, {"select_features": False}, analyst=who)
    anonymous = gateway.start_run(INGESTION, {"select_features": False})
    assert gateway.run(started).started_by == who
    assert gateway.run(anonymous).started_by is None
    for run_id in (started, anonymous):  # answered, so no run is left waiting for the tests after this one
        wait_for_pending_input(run_id)
        gateway.resume(run_id, {"number_of_users": 1})
        wait_for_status(run_id, {"completed"})


def test_a_resume_validates_the_pause_the_page_holds_once_and_refuses_it_once_over(
        backend: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's `PendingInput` is what is resumed: its schema validates the values, its key is checked against the
    run's state in the same call, and the pause's inputs are not read again."""
    from pipelines.catalog import INGESTION
    from pipelines.core.schema_input import InputInvalid
    from tests.conftest import wait_for_pending_input, wait_for_status

    run_id = gateway.start_run(INGESTION, {"select_features": False})
    pending = wait_for_pending_input(run_id)
    read_again: list[str] = []
    monkeypatch.setattr(gateway, "_read_input", lambda client, run, key: read_again.append(key))
    with pytest.raises(InputInvalid, match="Number of users must be a whole number"):
        gateway.resume(pending, {"number_of_users": "abc"}, analyst="Kim")
    assert gateway.run(run_id).status == "paused"  # refused before Prefect was asked: the run still waits
    assert gateway.resume(pending, {"number_of_users": "3"}, analyst="Kim") == {"number_of_users": 3,
                                                                               "resumed_by": "Kim"}
    with pytest.raises(gateway.PauseStale, match="no longer waiting"):
        gateway.resume(pending, {"number_of_users": 3}, analyst="Kim")
    assert read_again == []
    monkeypatch.undo()
    wait_for_status(run_id, {"completed"})


def test_a_completed_run_that_kept_no_result_reads_as_none(prefect_api: str) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Completed

    with get_client(sync_client=True) as client:  # as in a long history whose result storage was cleared
        kept_nothing = client.create_flow_run(flow(name="kept-no-result")(lambda: None), state=Completed())
    assert gateway.run(kept_nothing.id).status == "completed"
    assert gateway.result(kept_nothing.id) is None


def test_a_progress_update_is_announced_to_the_dashboards_server(backend: object, autohelper_split: str) -> None:
    # Prefect's events worker reads the server from the settings; the update's event must reach the backend the
    # dashboard talks to, not a temporary server the worker would start in this process.
    import time
    from datetime import UTC, datetime

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    from pipelines.catalog import AUTOHELPER_PROGRESS_ARTIFACT_KEY
    from tests.conftest import prefect_api_of

    [shown] = [a for a in gateway.artifacts(autohelper_split) if a.key == AUTOHELPER_PROGRESS_ARTIFACT_KEY]
    since = datetime.now(UTC).isoformat()
    assert gateway.update_progress(autohelper_split, AUTOHELPER_PROGRESS_ARTIFACT_KEY, shown.data, shown.description)

    with prefect_api_of(backend), get_client(sync_client=True) as client:  # the update ran without them, as on a page
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[AUTOHELPER_PROGRESS_ARTIFACT_KEY]),
            flow_run_id=ArtifactFilterFlowRunId(any_=[autohelper_split])))
        query = {"filter": {"occurred": {"since": since}, "event": {"name": ["prefect.artifact.updated"]},
                            "resource": {"id": [f"prefect.artifact.{artifact.id}"]}}}
        deadline = time.monotonic() + 30  # events are sent from a worker thread and stored in batches
        while not (events := client.request("POST", "/events/filter", json=query).json()["events"]):
            assert time.monotonic() < deadline, "the update's event never reached the dashboard's server"
            time.sleep(0.5)
    assert [event["payload"] for event in events] == [{"data": shown.data, "description": shown.description}]
