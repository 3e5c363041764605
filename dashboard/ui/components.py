"""Pieces several pages share: backend status, the run a page shows, its header, its pause form, its logs."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import streamlit as st

from dashboard import gateway
from dashboard.ui.access import LAPTOP, Access, current_role, identity_sidebar, signed_in_identity
from dashboard.ui.forms import render_pause_form
from pipelines.backend import BackendStartError, BackendStatus
from pipelines.catalog import AUDIT_ARTIFACT_KEY
from pipelines.core.markdown import escape_markdown
from pipelines.core.schema_input import InputInvalid
from pipelines.core.threshold import ACCURACY_OF_LABELS, AccuracyOf

RECENT_RUNS = 20  # how many of a flow's runs a run page offers; a pinned older run is offered too

STATUS_BADGES = {
    "scheduled": ":gray-badge[:material/schedule: scheduled]",
    "running": ":blue-badge[:material/play_arrow: running]",
    "paused": ":orange-badge[:material/pause: waiting for input]",
    "completed": ":green-badge[:material/check: completed]",
    "failed": ":red-badge[:material/error: failed]",
    "cancelled": ":gray-badge[:material/block: cancelled]",
    "crashed": ":red-badge[:material/warning: crashed]",
}


@st.cache_resource(show_spinner="Starting the embedded Prefect backend…")
def _started_backend() -> BackendStatus:
    # Started once per Streamlit process; the processes themselves outlive it and are reused next time.
    return gateway.connect()


def backend_status() -> BackendStatus | None:
    """The backend's status, starting the embedded backend on first use; None (with a message) if it fails."""
    try:
        _started_backend()
        return gateway.connect()
    except BackendStartError as exc:
        st.error(str(exc))
        return None


def analyst_field() -> None:
    """The analyst-name box, kept in the page's address as `?analyst=` so a reload or a link keeps the name
    (and the audit trail does not say "anonymous analyst")."""
    # A new session (a reload, an opened link) takes the name from the address; changing pages drops the
    # address's parameters, so the name is written back on every run.
    if "analyst" not in st.session_state:
        st.session_state["analyst"] = st.query_params.get("analyst", "")
    st.text_input("Analyst name", key="analyst", placeholder="Recorded with every answer you give",
                  help="Kept in the page's address (`?analyst=`) across reloads.")
    name = st.session_state["analyst"].strip()
    if not name:
        st.query_params.pop("analyst", None)
    elif st.query_params.get("analyst") != name:
        st.query_params["analyst"] = name


def backend_sidebar(access: Access = LAPTOP) -> None:
    """Who answers (the signed-in person, or the analyst-name box in laptop mode), then the backend's status;
    annotators see only who they are, since the backend and its UI are the analysts'."""
    with st.sidebar:
        if access.identity is None:
            analyst_field()
        else:
            identity_sidebar(access)
        if access.role != "analyst":
            return
        st.subheader("Backend")
        status = backend_status()
        if status is None:
            return
        kind = "embedded" if status.embedded else "external"
        health = ":green[healthy]" if status.healthy else ":red[not answering]"
        st.markdown(f"Prefect API ({kind}): `{status.api_url}` — {health}")
        if status.runner_alive is not None:
            st.markdown(f"Runner: {':green[alive]' if status.runner_alive else ':red[not running]'}")
        st.link_button("Open the Prefect UI", status.ui_url, icon=":material/open_in_new:")


def run_header(run: gateway.RunSummary, show_failure: bool = True) -> None:
    st.markdown(f"**{run.flow_name}** · `{run.name}` · {STATUS_BADGES[run.status]} · [open in Prefect]({run.ui_url})")
    if run.started_by:
        st.caption(f"Started by {escape_markdown(run.started_by)}")
    if show_failure and run.message and run.status in {"failed", "crashed", "cancelled"}:
        st.error(escape_markdown(run.message))  # a failure message may quote data
    _resume_notice(run)


# What became of the last resume sent for a run, kept in the session: a message drawn only by the click's handler
# would vanish when the page's live view reruns it a moment later, as the resumed run starts to change.
_NOTICE_PREFIX = "resume_notice."
_NOTICE_STYLES = {"success": st.success, "warning": st.warning, "error": st.error}


def _set_resume_notice(run_id: UUID, kind: str, text: str) -> None:
    st.session_state[f"{_NOTICE_PREFIX}{run_id}"] = {"kind": kind, "text": text, "status": None}


def _resume_notice(run: gateway.RunSummary, named: bool = False) -> None:
    """Show the last resume's outcome until the run's waiting changes: it leaves the pause the notice was shown
    with, or reaches a new one (`named`: say which run, where the run itself is not drawn).

    Other changes keep it: a refusal must not vanish because the run it refers to finished a moment later.
    """
    key = f"{_NOTICE_PREFIX}{run.id}"
    notice = st.session_state.get(key)
    if notice is None:
        return
    if notice["status"] is None:
        notice["status"] = run.status
    if notice["status"] != run.status and "paused" in {notice["status"], run.status}:
        del st.session_state[key]
        return
    _NOTICE_STYLES[notice["kind"]](f"`{run.name}`: {notice['text']}" if named else notice["text"])


def resume_notices_for_runs_not_shown(shown: Collection[UUID]) -> None:
    """The outcomes of resumes sent from this page for runs it no longer draws (the Inbox lists only waiting runs,
    so a run it resumed leaves the list at once)."""
    for key in [key for key in st.session_state if str(key).startswith(_NOTICE_PREFIX)]:
        run_id = UUID(str(key).removeprefix(_NOTICE_PREFIX))
        if run_id not in shown:
            _resume_notice(gateway.run(run_id), named=True)


def audit_trail(run_id: UUID) -> None:
    """Every answered pause of a run: who, when, what."""
    rows = [row for a in gateway.artifacts(run_id) if a.key == AUDIT_ARTIFACT_KEY for row in a.data]
    if rows:
        st.subheader("Audit trail")
        st.dataframe(rows, hide_index=True, key=f"audit.{run_id}")


def analyst_name() -> str:
    """Who answers pauses in this session: the signed-in identity (`issuer|subject (name)`) where sign-in is
    configured, else the name typed in the sidebar."""
    if (identity := signed_in_identity()) is not None:
        return identity.audit_label
    return st.session_state.get("analyst", "").strip() or "anonymous analyst"


def _run_label(run: gateway.RunSummary) -> str:
    started = f"{run.created.astimezone():%Y-%m-%d %H:%M:%S}" if run.created else "not started yet"
    return f"{run.name} · {run.status} · {started}"


def _pin_from_address(flow_name: str, pin_key: str) -> None:
    """Pin the run `?run=<id>` names when the address is new to this page (opened, edited or linked to)."""
    asked = st.query_params.get("run")
    if not asked or asked == st.session_state.get(f"{pin_key}.address"):
        return  # no run asked for, or the address is the one this page wrote
    found = gateway.find_run(asked)
    if found is None or found.flow_name != flow_name:
        st.warning(f"The address asks for run {escape_markdown(asked)}, which is no {flow_name} run: "
                   "it is ignored.", icon=":material/link_off:")
        return
    st.session_state[pin_key] = found.id


def _pick(pin_key: str, picker_key: str) -> None:
    st.session_state[pin_key] = st.session_state[picker_key]


def current_run(
    flow_name: str, key: str, detail: Callable[[gateway.RunSummary], str] | None = None
) -> gateway.RunSummary | None:
    """The run a page shows and acts on, picked from the flow's recent runs (newest first); None if none.

    The run on screen is pinned in `st.session_state[f"{key}.run_id"]`: the newest at first, then whichever
    the person picks, so a run started elsewhere never replaces it. A page that starts a run (or another
    page, for this one) pins it by setting that key. The pin is mirrored in the address as `?run=<id>`, read
    when the page opens, so a run can be reopened by URL; an id naming no run of this flow is ignored, with
    a message. `detail` adds to each run's label (name, status, start time).
    """
    pin_key, picker_key = f"{key}.run_id", f"{key}.run_picker"
    _pin_from_address(flow_name, pin_key)
    runs = gateway.recent_runs(limit=RECENT_RUNS, flow_name=flow_name)
    pinned = st.session_state.get(pin_key)
    pinned = None if pinned is None else UUID(str(pinned))  # pages and tests pin a UUID or its text
    if pinned is not None and pinned not in {run.id for run in runs}:
        older = gateway.find_run(str(pinned))  # asked for by address, or pushed out of the list by newer runs
        runs += [older] if older is not None and older.flow_name == flow_name else []
    by_id = {run.id: run for run in runs}
    if not by_id:
        return None
    chosen = pinned if pinned in by_id else runs[0].id
    st.session_state[pin_key] = st.session_state[picker_key] = chosen
    st.selectbox("Run", list(by_id), key=picker_key, on_change=_pick, args=(pin_key, picker_key),
                 format_func=lambda run_id: " · ".join(
                     [_run_label(by_id[run_id]), *([detail(by_id[run_id])] if detail else [])]),
                 help="Newest first. The page stays on the run picked here until you pick another, and its "
                      "address opens this run again.")
    if newer := list(by_id).index(chosen):
        st.caption(f"{newer} newer run{'s' if newer > 1 else ''} of this flow started since; "
                   "pick one above to see it.")
    if st.query_params.get("run") != str(chosen):
        st.query_params["run"] = str(chosen)
    st.session_state[f"{pin_key}.address"] = str(chosen)
    return by_id[chosen]


def resume_or_explain(pending: gateway.PendingInput, values: dict) -> None:
    """Resume exactly the pause `pending` with `values`, or say why not (invalid input, or the pause is over).

    Made for a button's `on_click`, with the pause (its run, key and schema) the button was drawn for in its `args`:
    Streamlit calls it before the page is drawn again, so the click never acts on what the rerun would show.
    """
    if current_role() != "analyst":  # the handler runs before the page's guard: the role may be gone by now
        st.error("Not allowed: only analysts resume runs. Nothing was sent.")
        return
    try:
        gateway.resume(pending, values, analyst=analyst_name())
    except InputInvalid as exc:
        _set_resume_notice(pending.run_id, "error",
                           "\n".join(f"- {escape_markdown(error.message)}" for error in exc.errors))
    except gateway.PauseStale as exc:
        _set_resume_notice(pending.run_id, "warning", f"{exc} Nothing was sent; the page now shows where the run is.")
    else:
        _set_resume_notice(pending.run_id, "success", "Resumed.")


def resume_with_widgets(pending: gateway.PendingInput, widget_keys: dict[str, str]) -> None:
    """`resume_or_explain` with each field read from its widget at the click (field name -> widget key).

    A widget changed just before the click reaches the server in the same rerun as the click, after the button
    was drawn: values bound into the button's `args` would be the ones from before the change.
    """
    resume_or_explain(pending, {field: st.session_state[key] for field, key in widget_keys.items()})


def decision_field(schema: dict) -> tuple[str, dict[str, str]] | None:
    """The pause's decision field, if it has one: a boolean whose schema names each answer under `decision`
    (e.g. `{"true": "Approve and publish", "false": "Reject"}`), with those names."""
    for name, field in schema.get("properties", {}).items():
        if field.get("type") == "boolean" and isinstance(field.get("decision"), dict):
            return name, field["decision"]
    return None


def decision_form(pending: gateway.PendingInput, key: str) -> None:
    """A decision that ends a run: nothing is chosen at first, and a choice is sent only by its confirm button.

    Drawn the same wherever the pause is answered (its page, the Inbox), so no single click decides.
    """
    found = decision_field(pending.schema)
    if found is None:
        raise ValueError("This pause asks for no decision; draw it with pause_form.")
    field, names = found
    st.markdown(pending.description)
    choice_key = f"{key}.{field}"
    choice = st.radio(pending.schema["properties"][field].get("title", field), [True, False], index=None,
                      key=choice_key, horizontal=True, format_func=lambda value: names[str(value).lower()])
    # The click sends the choice the radio holds at the click, for the run and pause drawn here.
    st.button(f"Confirm: {names[str(choice).lower()]}" if choice is not None else "Choose, then confirm",
              key=f"{key}.confirm", type="primary", disabled=choice is None, icon=":material/gavel:",
              on_click=resume_with_widgets, args=(pending, {field: choice_key}))


def pause_form(run_id: UUID, key: str) -> None:
    """Show the form a paused run waits for; a submit resumes exactly this run and pause, or says why not.

    `key` should name the run (e.g. `f"ingestion.{run_id}.pause"`), so typed values stay with their run.
    A pause that asks for a decision gets the `decision_form`.
    """
    pending = gateway.pending_input(run_id)
    if pending is None:
        st.info("This run is paused; its form is being prepared.")
        return
    if decision_field(pending.schema) is not None:
        decision_form(pending, key)
        return
    render_pause_form(pending.schema, key=key, description=pending.description, hidden=("resumed_by",),
                      on_submit=lambda values: resume_or_explain(pending, values))


def recent_logs(run_id: UUID, limit: int = 30) -> None:
    lines = gateway.logs(run_id, limit=limit)
    with st.expander(f"Recent logs ({len(lines)})"):
        st.code("\n".join(f"{line.timestamp:%H:%M:%S} {line.message}" for line in lines) or "No logs yet.")


def _progress(run_id: UUID, subflows: bool, status: str | None = None) -> tuple[tuple, list[gateway.ArtifactView]]:
    """What a watched run's page would redraw for (its status, how many artifacts, with `subflows` its subflows'
    statuses), and the artifacts read for it."""
    status = status or gateway.run(run_id).status
    artifacts = gateway.artifacts(run_id)
    children = tuple(child.status for child in gateway.child_runs(run_id)) if subflows else ()
    return (status, len(artifacts), children), artifacts


# A run's first half minute is watched each second, so a short run's result shows at once; then every few seconds,
# and after two minutes every five: a long run's progress moves a point every few seconds at most
# (`pipelines.core.progress` publishes at most one a second, only whole points; 100k reviews move a point every five
# or six), and every refresh costs the server that runs it, on the same two cores.
QUICK_REFRESH_S = 1.0
# (how long a run has gone on, how often it is refreshed from then on), in order
REFRESH_AFTER: tuple[tuple[timedelta, float], ...] = ((timedelta(seconds=30), 3.0), (timedelta(minutes=2), 5.0))


def refresh_seconds(created: datetime | None, now: datetime) -> float:
    """How often a page refreshes a run created at `created` (unknown: as a new one)."""
    if created is None:
        return QUICK_REFRESH_S
    return next((seconds for after, seconds in reversed(REFRESH_AFTER) if now - created >= after), QUICK_REFRESH_S)


def live_until_settled(
    run: gateway.RunSummary, label: str = "Run is running…",
    body: Callable[[list[gateway.ArtifactView]], None] | None = None, subflows: bool = False,
) -> None:
    """Refresh a scheduled or running run (every second, every few seconds once it has gone on a while; drawing
    `body` with the run's artifacts, e.g. a progress bar, each time); rerun the page once it changes (its status,
    its artifacts, or with `subflows` its subflows), so results show at once."""
    # Compared with the status the page was drawn with, so a change during this run is not missed. Each refresh
    # reads the run and its artifacts once (and subflows only where the flow has any): a page left open on a long
    # run shares two cores with the run itself.
    seen, _ = _progress(run.id, subflows, run.status)
    interval = refresh_seconds(run.created, datetime.now(timezone.utc))

    @st.fragment(run_every=interval)
    def _watch() -> None:
        signature, artifacts = _progress(run.id, subflows)
        # A fragment keeps the interval it was drawn with: the page is redrawn once to slow down.
        if signature != seen or refresh_seconds(run.created, datetime.now(timezone.utc)) != interval:
            st.rerun()
        if body is not None:
            body(artifacts)
        st.status(label, state="running")

    _watch()


def runs_table(runs: list[gateway.RunSummary], key: str) -> None:
    if not runs:
        st.caption("No runs yet.")
        return
    rows = [
        {"created": r.created, "flow": r.flow_name, "run": r.name, "status": r.status, "state": r.state_name,
         "link": r.ui_url}
        for r in runs
    ]
    st.dataframe(rows, key=key, hide_index=True,
                 column_config={"link": st.column_config.LinkColumn("Prefect", display_text="open")})


ACCURACY_OF_HELP = ("Task items (the default): how often the items the model keeps are expected to be right, from "
                    "its confidences calibrated on every golden item. Golden items: how often the golden items above "
                    "the threshold are right, which a few confident golden mistakes can move far.")


def accuracy_of_choice(label: str, key: str, where: Any = st, horizontal: bool = False) -> AccuracyOf:
    """The accuracy a threshold is held to (see `pipelines.core.threshold.AccuracyOf`), calibrated first."""
    return where.radio(label, ["calibrated", "golden"], format_func=ACCURACY_OF_LABELS.__getitem__, key=key,
                       horizontal=horizontal, help=ACCURACY_OF_HELP)

