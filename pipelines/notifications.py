"""People learn that a run waits for them: Prefect notification blocks and automations, set up at start-up.

`ensure_notifications()` saves one notification block per configured channel (`HITL_NOTIFY_*`) and two
automations on the server: one on every `prefect.flow-run.Paused` / `Suspended` event of the project's flows, one
proactive reminder when such a pause has had no answer for `notify_reminder_hours`. Both are found by name and
updated in place, so every start-up leaves exactly one of each; with no channel set, nothing is touched. The
messages are Jinja templates the Prefect server renders when it acts: run name, flow, what the run waits for,
its pause timeout and a link to the dashboard page whose form answers it, never a link that answers by itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from uuid import UUID

from prefect.automations import Automation, EventTrigger, SendNotification
from prefect.blocks.core import Block
from prefect.blocks.notifications import CustomWebhookNotificationBlock, MicrosoftTeamsWebhook, SlackWebhook
from prefect.client.orchestration import get_client
from prefect.events.schemas.automations import Posture
from pydantic import SecretStr

from pipelines.catalog import FORM_PAGES
from pipelines.core.notify import DEADLINE_LABEL, TIMEOUT_LABEL, WAITS_FOR_LABEL, duration_text
from pipelines.core.settings import Settings, get_settings

WAITING_AUTOMATION = "hitl-studio: a run waits for input"
REMINDER_AUTOMATION = "hitl-studio: a run still waits for input"
SLACK_BLOCK = "hitl-studio-slack"
TEAMS_BLOCK = "hitl-studio-teams"
WEBHOOK_BLOCK = "hitl-studio-webhook"
WAIT_EVENTS = {"prefect.flow-run.Paused", "prefect.flow-run.Suspended"}
# The next state of a waiting run ends its wait: resumed (Running; a suspended run goes through Resuming and
# Scheduled), timed out (Failed), cancelled, crashed. A new pause is expected too, so it restarts the clock.
END_OF_WAIT_EVENTS = {f"prefect.flow-run.{state}" for state in (
    "Running", "Resuming", "Scheduled", "Pending", "Completed", "Failed", "Crashed", "Cancelling", "Cancelled")}
FALLBACK_PAGE = "inbox"  # lists every waiting run with its form

# "text" goes into a JSON field as is; "chat" is read as markup (Slack mrkdwn, Teams Markdown), where `<…>`
# makes mentions and links, `[…](…)` links, and `*`, `` ` ``, `~` styles: untrusted text gets look-alikes.
MessageFormat = Literal["text", "chat"]
_FLATTEN = (("\r", " "), ("\n", " "))
_CHAT_LOOKALIKES = (("<", "‹"), (">", "›"), ("[", "［"), ("]", "］"), ("*", "∗"), ("`", "ʼ"), ("~", "∼"))


# Settings field, Prefect block type and the name the block is saved under, for the webhooks given by URL.
_CHAT_WEBHOOKS: tuple[tuple[str, type[SlackWebhook | MicrosoftTeamsWebhook], str], ...] = (
    ("notify_slack_url", SlackWebhook, SLACK_BLOCK),
    ("notify_teams_url", MicrosoftTeamsWebhook, TEAMS_BLOCK),
)


class NotificationSetupError(RuntimeError):
    """A notification setting names no usable channel; the message names the setting to fix."""


@dataclass(frozen=True)
class Channel:
    """A saved notification block and the format its messages are written in."""

    block_document_id: UUID
    message_format: MessageFormat


def ensure_notifications(settings: Settings | None = None) -> list[UUID]:
    """Create or update the notification blocks and the two automations from the settings, and return the
    automations' ids; with no channel set, do nothing and return none.

    A process without channels leaves the server as it is, so a runner or dashboard started without the
    `HITL_NOTIFY_*` settings never undoes another's; `remove_notifications()` turns them off.

    Raises:
        NotificationSetupError: a channel setting is invalid (e.g. not a Teams Workflows URL, an unknown block).
    """
    settings = settings or get_settings()
    if not settings.notifications_configured:
        return []
    channels = _channels(settings)
    reminder_after = timedelta(hours=settings.notify_reminder_hours)
    waiting = Automation(
        name=WAITING_AUTOMATION,
        description="Tells people that a HITL Studio run paused for their input, with a link to its form.",
        trigger=EventTrigger(expect=WAIT_EVENTS, posture=Posture.Reactive, threshold=1, within=timedelta(0),
                             **_project_runs()),
        actions=[_send(channel, settings, reminder_after=None) for channel in channels],
    )
    reminder = Automation(
        name=REMINDER_AUTOMATION,
        description="Reminds people when a HITL Studio pause has had no answer for "
                    f"{duration_text(reminder_after.total_seconds())}.",
        trigger=EventTrigger(after=WAIT_EVENTS, expect=END_OF_WAIT_EVENTS | WAIT_EVENTS, posture=Posture.Proactive,
                             threshold=1, within=reminder_after, **_project_runs()),
        actions=[_send(channel, settings, reminder_after=reminder_after) for channel in channels],
    )
    return [_upsert(waiting), _upsert(reminder)]


def remove_notifications() -> None:
    """Delete the project's notification automations (the blocks stay, for whoever else uses them)."""
    with get_client(sync_client=True) as client:
        for name in (WAITING_AUTOMATION, REMINDER_AUTOMATION):
            for automation in client.read_automations_by_name(name):
                client.delete_automation(automation.id)


def _project_runs() -> dict:
    # Each run is its own trigger bucket; only runs of the project's pausing flows, whose pages have forms.
    return {
        "match": {"prefect.resource.id": "prefect.flow-run.*"},
        "match_related": {"prefect.resource.role": "flow", "prefect.resource.name": sorted(FORM_PAGES)},
        "for_each": {"prefect.resource.id"},
    }


def _upsert(automation: Automation) -> UUID:
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(automation.name)
        for duplicate in existing[1:]:  # two start-ups at once may both have created one
            client.delete_automation(duplicate.id)
    if existing:
        automation.id = existing[0].id
        automation.update()
    else:
        automation.create()
    assert automation.id is not None
    return automation.id


def _channels(settings: Settings) -> list[Channel]:
    channels = []
    for field, block_type, block_name in _CHAT_WEBHOOKS:
        url: SecretStr | None = getattr(settings, field)
        if url is None:
            continue
        wrong = f"HITL_{field.upper()} is not a {block_type.get_block_type_name()} URL"
        try:
            block = block_type(url=url)
        except ValueError as exc:  # Teams' block checks the URL's shape when it is built
            raise NotificationSetupError(f"{wrong}: {str(exc).replace(url.get_secret_value(), '<URL>')}") from exc
        if not len(block._apprise_client):  # Apprise takes no service for a URL it cannot read, and says nothing
            raise NotificationSetupError(f"{wrong}.")
        channels.append(Channel(block.save(block_name, overwrite=True), "chat"))
    if settings.notify_webhook_url:
        # The URL is a secret value of the block (it may carry a token), not shown in Prefect's UI.
        webhook = CustomWebhookNotificationBlock(
            name="HITL Studio", url="{{url}}", json_data={"title": "{{subject}}", "text": "{{body}}"},
            secrets={"url": settings.notify_webhook_url.get_secret_value()},
        )
        channels.append(Channel(webhook.save(WEBHOOK_BLOCK, overwrite=True), "text"))
    if settings.notify_block:
        channels.append(_existing_block(settings.notify_block))
    return channels


def _existing_block(reference: str) -> Channel:
    try:
        block = Block.load(reference)
    except ValueError as exc:
        raise NotificationSetupError(f"HITL_NOTIFY_BLOCK={reference!r} names no saved block; give "
                                     "`<block-type-slug>/<block-name>`, e.g. `slack-webhook/team-alerts`.") from exc
    if "notify" not in block.get_block_capabilities() or block._block_document_id is None:
        raise NotificationSetupError(f"HITL_NOTIFY_BLOCK={reference!r} is not a notification block.")
    message_format: MessageFormat = "text" if isinstance(block, CustomWebhookNotificationBlock) else "chat"
    return Channel(block._block_document_id, message_format)


def _send(channel: Channel, settings: Settings, reminder_after: timedelta | None) -> SendNotification:
    run = _untrusted("flow_run.name", channel.message_format)
    subject = (f"HITL Studio reminder: run {run} still waits for input" if reminder_after
               else f"HITL Studio: run {run} waits for input")
    return SendNotification(block_document_id=channel.block_document_id, subject=subject,
                            body=message_body(channel.message_format, settings.notify_dashboard_url, reminder_after))


def message_body(message_format: MessageFormat, dashboard_url: str, reminder_after: timedelta | None = None) -> str:
    """The Jinja template of a notification's text, rendered by Prefect's server with the triggering event's
    `flow_run`, `flow` and `event`; every value from the run is flattened to one line, and for "chat" its markup
    characters are replaced by look-alikes."""
    run = _untrusted("flow_run.name", message_format)
    flow = _untrusted("flow.name", message_format)
    waits_for = _untrusted(f"flow_run.labels[{WAITS_FOR_LABEL!r}] | default('an answer')", message_format)
    timeout = _untrusted(f"flow_run.labels[{TIMEOUT_LABEL!r}]", message_format)
    deadline = _untrusted(f"flow_run.labels[{DEADLINE_LABEL!r}]", message_format)
    page = "{{ " + json.dumps(FORM_PAGES) + f"[flow.name] | default({FALLBACK_PAGE!r}) }}}}"
    run_id = "{{ event.resource.id | replace('prefect.flow-run.', '') }}"
    opening = (f"Reminder: run {run} of flow {flow} has waited {duration_text(reminder_after.total_seconds())} "
               "for a person." if reminder_after else f"Run {run} of flow {flow} waits for a person.")
    return "\n".join([
        opening,
        f"Waits for: {waits_for}",
        (f"Timeout: {{% if flow_run.labels[{TIMEOUT_LABEL!r}] is defined %}}{timeout}; the run fails if nobody "
         f"answers by {deadline}.{{% else %}}none stated.{{% endif %}}"),
        f"Answer in the dashboard: {dashboard_url.rstrip('/')}/{page}?run={run_id}",
    ])


def _untrusted(expression: str, message_format: MessageFormat) -> str:
    replacements = _FLATTEN + (_CHAT_LOOKALIKES if message_format == "chat" else ())
    chain = "".join(f" | replace({json.dumps(old)}, {json.dumps(new, ensure_ascii=False)})"
                    for old, new in replacements)
    return f"{{{{ ({expression}){chain} }}}}"
