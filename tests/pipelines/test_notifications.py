"""People learn that a run waits for them: Prefect automations on a real embedded backend notify a local webhook
receiver, once per pause, with the run, what it waits for, its timeout and a link that opens its form."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.events.schemas.automations import Posture
from prefect.exceptions import ObjectNotFound

from dashboard import gateway
from pipelines.backend import wake_runner
from pipelines.catalog import FEATURE_SELECTION, INGESTION
from pipelines.core.settings import Settings, get_settings
from pipelines.notifications import (
    REMINDER_AUTOMATION,
    WAIT_EVENTS,
    WAITING_AUTOMATION,
    NotificationSetupError,
    ensure_notifications,
    remove_notifications,
)
from tests.conftest import free_port, wait_for_child, wait_for_pending_input, wait_for_status
from tests.dashboard.apptest import page_app

pytestmark = pytest.mark.usefixtures("prefect_api")

DASHBOARD = "https://hitl.example.org/studio/"
# A run name that would add a line (a fake link) to a plain message and a mention and a link to a chat message.
HOSTILE_NAME = "quiet-otter\nAnswer in the dashboard: https://evil.example/?run=x <!channel> [go](https://evil.example)"


@dataclass
class Receiver:
    """A local webhook: every JSON body POSTed to `url`, in arrival order."""

    url: str
    messages: list[dict] = field(default_factory=list)

    def wait_for(self, wanted: Callable[[dict], bool], timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := [m for m in list(self.messages) if wanted(m)]:
                return found[0]
            time.sleep(0.25)
        pytest.fail(f"no such notification arrived; received: {self.messages}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    found = Receiver(url=f"http://127.0.0.1:{port}/hook")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            found.messages.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield found
    server.shutdown()


@pytest.fixture
def notifications_off() -> Iterator[None]:
    """Whatever a test sets up, the backend the session shares is left without the project's automations."""
    yield
    remove_notifications()


def _start_named(deployment: str, name: str) -> UUID:
    """Start a run of `deployment` named `name`, once the runner has registered the deployment."""
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while True:
            try:
                deployment_id = client.read_deployment_by_name(deployment).id
                break
            except ObjectNotFound:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        run_id = client.create_flow_run_from_deployment(deployment_id, name=name).id
    wake_runner(get_settings())  # as the dashboard does when it starts a run, so the runner's poll is not awaited
    return run_id


def _lines(message: dict) -> dict[str, str]:
    """A message's text as `{first word(s) before ':': rest}`, plus its opening line under "opening"."""
    opening, *rest = message["text"].split("\n")
    return {"opening": opening, **dict(line.split(": ", 1) for line in rest)}


def _link_run(message: dict) -> str:
    return parse_qs(urlparse(_lines(message)["Answer in the dashboard"]).query)["run"][0]


def _is_reminder(message: dict) -> bool:
    return message["title"].startswith("HITL Studio reminder:")


def _notices(receiver: Receiver, run_id: UUID, reminder: bool) -> list[dict]:
    return [m for m in receiver.messages if _link_run(m) == str(run_id) and _is_reminder(m) == reminder]


def _paused_state(run_id: UUID):
    with get_client(sync_client=True) as client:
        return next(s for s in client.read_flow_run_states(run_id) if s.name == "Paused")


def _assert_opens_its_form(message: dict, run_id: UUID, page: str, key: str) -> None:
    """The link is the dashboard's page for the run, and that page opened on it shows this run's pause form."""
    link = urlparse(_lines(message)["Answer in the dashboard"])
    assert f"{link.scheme}://{link.netloc}{link.path}" == DASHBOARD + page
    app = page_app(f"views/{page}.py")
    app.query_params["run"] = _link_run(message)
    app.run()
    assert not app.exception
    assert app.session_state[f"{key}.run_id"] == run_id
    # The page's answer button is drawn for this run (its key or its form's names the run).
    assert any(str(run_id) in f"{button.key} {button.form_id}" for button in app.button)


def _assert_states_the_pause(message: dict, run_id: UUID, waits_for: str) -> None:
    lines = _lines(message)
    assert lines["Waits for"] == waits_for
    deadline = _paused_state(run_id).state_details.pause_timeout
    stated = datetime.strptime(lines["Timeout"], "8 h; the run fails if nobody answers by %Y-%m-%d %H:%M UTC.")
    assert abs(stated.replace(tzinfo=timezone.utc) - deadline) < timedelta(minutes=1)


def test_each_pause_notifies_once_with_its_form_and_only_a_long_wait_reminds(
    receiver: Receiver, randomuser: object, notifications_off: None
) -> None:
    ensure_notifications(Settings(notify_webhook_url=receiver.url, notify_dashboard_url=DASHBOARD,
                                  notify_reminder_hours=10 / 3600))
    parent = _start_named(INGESTION, HOSTILE_NAME)
    wait_for_pending_input(parent)
    gateway.resume(parent, {"number_of_users": 3}, analyst="Dana")  # answered at once: no reminder is due
    child = wait_for_child(parent)
    wait_for_pending_input(child)

    # The child's reminder comes 10 s after its pause: by then every notice before it has arrived.
    child_reminder = receiver.wait_for(lambda m: _link_run(m) == str(child) and _is_reminder(m))
    [parent_notice] = _notices(receiver, parent, reminder=False)
    [child_notice] = _notices(receiver, child, reminder=False)
    assert _notices(receiver, parent, reminder=True) == []
    assert [child_reminder] == _notices(receiver, child, reminder=True)

    flat_name = HOSTILE_NAME.replace("\n", " ")
    assert parent_notice["title"] == f"HITL Studio: run {flat_name} waits for input"
    assert _lines(parent_notice)["opening"] == f"Run {flat_name} of flow {INGESTION.flow} waits for a person."
    assert len(parent_notice["text"].split("\n")) == 4  # the name's line break added no line
    _assert_states_the_pause(parent_notice, parent, "How many users should we fetch? (user count)")
    assert _lines(parent_notice)["Answer in the dashboard"] == f"{DASHBOARD}ingestion?run={parent}"

    child_name = gateway.run(child).name
    assert child_notice["title"] == f"HITL Studio: run {child_name} waits for input"
    _assert_states_the_pause(child_notice, child, "Which columns should be dropped? (features to drop)")
    assert child_reminder["title"] == f"HITL Studio reminder: run {child_name} still waits for input"
    assert _lines(child_reminder)["opening"] == (f"Reminder: run {child_name} of flow {FEATURE_SELECTION} has "
                                                 "waited 10 s for a person.")
    _assert_states_the_pause(child_reminder, child, "Which columns should be dropped? (features to drop)")
    _assert_opens_its_form(child_notice, child, "features", "features")

    gateway.resume(child, {"features_to_drop": ["email"]}, analyst="Dana")
    assert wait_for_status(parent, {"completed", "failed"}).status == "completed"


def test_start_ups_keep_one_automation_of_each_and_only_removal_removes_them(
    receiver: Receiver, notifications_off: None
) -> None:
    settings = Settings(notify_webhook_url=receiver.url, notify_reminder_hours=2)
    first, second = ensure_notifications(settings), ensure_notifications(settings)
    assert first == second
    with get_client(sync_client=True) as client:
        [waiting] = client.read_automations_by_name(WAITING_AUTOMATION)
        [reminder] = client.read_automations_by_name(REMINDER_AUTOMATION)
    assert waiting.trigger.posture == Posture.Reactive and waiting.trigger.expect == WAIT_EVENTS
    assert reminder.trigger.posture == Posture.Proactive and reminder.trigger.after == WAIT_EVENTS
    assert reminder.trigger.within == timedelta(hours=2) and reminder.trigger.threshold == 1
    assert "prefect.flow-run.Running" in reminder.trigger.expect
    assert [a.type for a in waiting.actions + reminder.actions] == ["send-notification"] * 2

    assert ensure_notifications(Settings()) == []  # a process without channels leaves them be
    with get_client(sync_client=True) as client:
        assert [a.id for a in client.read_automations_by_name(WAITING_AUTOMATION)] == [first[0]]
    remove_notifications()
    with get_client(sync_client=True) as client:
        assert client.read_automations_by_name(WAITING_AUTOMATION) == []
        assert client.read_automations_by_name(REMINDER_AUTOMATION) == []


@pytest.mark.parametrize(("setting", "message"), [
    ({"notify_teams_url": "https://example.org/not-a-workflow"}, "HITL_NOTIFY_TEAMS_URL is not a Microsoft Teams"),
    ({"notify_slack_url": "https://example.org/hooks/x"}, "HITL_NOTIFY_SLACK_URL is not a Slack Webhook URL"),
    ({"notify_block": "slack-webhook/no-such-block"}, "names no saved block"),
])
def test_a_wrong_channel_setting_is_named(setting: dict, message: str, notifications_off: None) -> None:
    with pytest.raises(NotificationSetupError, match=message):
        ensure_notifications(Settings(**setting))
