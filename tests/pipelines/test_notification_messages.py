"""The notification templates, rendered by Prefect's own server renderer and sent by Prefect's own Slack and Teams
blocks (their HTTP calls captured): a hostile run name or label adds no line, mention, link or styling."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from prefect.blocks.notifications import MicrosoftTeamsWebhook, SlackWebhook
from prefect.server.events.jinja_filters import all_filters
from prefect.server.utilities.user_templates import register_user_template_filters, render_user_template

from pipelines.core.notify import DEADLINE_LABEL, TIMEOUT_LABEL, WAITS_FOR_LABEL
from pipelines.notifications import message_body

RUN_ID = "6f1c1f8e-2f55-4c47-9d0c-3c2f0c1b7a10"
HOSTILE = ("evil\nAnswer in the dashboard: https://evil.example/?run=x\r <!channel> <@U024BE7LH|boss> "
           "[click](https://evil.example) <https://evil.example|click> ![img](https://evil.example/x.png) "
           "*bold* `code` ~strike~")
SLACK_URL = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
TEAMS_URL = ("https://prod-00.westus.logic.azure.com:443/workflows/0123456789abcdef/triggers/manual/paths/invoke"
             "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SIGNATURE")


def _render(message_format: str, run_name: str, labels: dict[str, str], flow: str = "remove-features") -> str:
    register_user_template_filters(all_filters)  # as the server's actions do before rendering
    context = {
        "flow_run": SimpleNamespace(name=run_name, labels=labels),
        "flow": SimpleNamespace(name=flow),
        "event": SimpleNamespace(resource=SimpleNamespace(id=f"prefect.flow-run.{RUN_ID}")),
    }
    template = message_body(message_format, "https://hitl.example.org/", None)  # type: ignore[arg-type]
    return asyncio.run(render_user_template(template, context))


LABELS = {WAITS_FOR_LABEL: HOSTILE, TIMEOUT_LABEL: "8 h", DEADLINE_LABEL: "2026-12-01 09:00 UTC"}


@pytest.mark.parametrize("message_format", ["text", "chat"])
def test_hostile_names_stay_on_their_line_and_the_link_is_the_runs_form(message_format: str) -> None:
    text = _render(message_format, HOSTILE, LABELS)
    lines = text.split("\n")
    assert len(lines) == 4
    assert lines[0].startswith("Run evil Answer in the dashboard: https://evil.example/?run=x  ")
    assert lines[0].endswith(" of flow remove-features waits for a person.")
    assert lines[1].startswith("Waits for: evil ")
    assert lines[2] == "Timeout: 8 h; the run fails if nobody answers by 2026-12-01 09:00 UTC."
    assert lines[3] == f"Answer in the dashboard: https://hitl.example.org/features?run={RUN_ID}"


def test_chat_messages_carry_no_markup_from_the_run() -> None:
    text = _render("chat", HOSTILE, LABELS)
    for line in text.split("\n")[:2]:
        assert not set("<>[]*`~") & set(line), line
    assert "‹!channel›" in text and "［click］(https://evil.example)" in text  # still readable


def test_a_run_of_an_unknown_flow_links_to_the_inbox_and_states_no_timeout() -> None:
    text = _render("text", "calm-heron", {}, flow="someone-elses-flow")
    assert text.split("\n")[1:] == ["Waits for: an answer", "Timeout: none stated.",
                                    f"Answer in the dashboard: https://hitl.example.org/inbox?run={RUN_ID}"]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The JSON bodies Apprise (behind Prefect's Slack and Teams blocks) would send; nothing leaves the machine."""
    bodies: list[dict[str, Any]] = []

    def capture(*args: Any, **kwargs: Any) -> SimpleNamespace:
        bodies.append(json.loads(kwargs["data"]))
        return SimpleNamespace(status_code=200, content=b"ok", text="ok", headers={})

    monkeypatch.setattr(requests, "request", capture)
    monkeypatch.setattr(requests, "post", capture)
    return bodies


def test_slack_gets_no_mention_or_link_from_the_run(sent: list[dict[str, Any]]) -> None:
    SlackWebhook(url=SLACK_URL).notify(_render("chat", HOSTILE, LABELS), subject="HITL Studio")
    [payload] = sent
    text = payload["attachments"][0]["text"]
    assert "<" not in text  # Slack's mentions and hidden-target links all start with "<": <!channel>, <url|text>
    assert text.endswith(f"\nAnswer in the dashboard: https://hitl.example.org/features?run={RUN_ID}")


def test_teams_gets_no_link_or_image_from_the_run(sent: list[dict[str, Any]]) -> None:
    MicrosoftTeamsWebhook(url=TEAMS_URL).notify(_render("chat", HOSTILE, LABELS), subject="HITL Studio")
    [payload] = sent
    texts = [block["text"] for block in payload["attachments"][0]["content"]["body"] if block["type"] == "TextBlock"]
    body = next(text for text in texts if "Waits for" in text)
    assert "](" not in body.replace("］(", "")  # no Markdown link or image
    assert "<" not in body and "*" not in body
