"""Pieces several pages share: backend status, a run's header, its pause form, its logs."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import streamlit as st

from dashboard import gateway
from dashboard.forms import render_pause_form
from pipelines.backend import BackendStartError, BackendStatus
from pipelines.catalog import AUDIT_ARTIFACT_KEY
from pipelines.core.schema_input import InputInvalid

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


def backend_sidebar() -> None:
    with st.sidebar:
        st.text_input("Analyst name", key="analyst", placeholder="Recorded with every answer you give")
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
    if show_failure and run.message and run.status in {"failed", "crashed", "cancelled"}:
        st.error(run.message)


def audit_trail(run_id: UUID) -> None:
    """Every answered pause of a run: who, when, what."""
    rows = [row for a in gateway.artifacts(run_id) if a.key == AUDIT_ARTIFACT_KEY for row in a.data]
    if rows:
        st.subheader("Audit trail")
        st.dataframe(rows, hide_index=True, key=f"audit.{run_id}")


def analyst_name() -> str:
    """Who answers pauses in this session: the logged-in user where the deployment has login, else the
    name typed in the sidebar."""
    if getattr(st.user, "is_logged_in", False) and st.user.get("name"):
        return str(st.user["name"])
    return st.session_state.get("analyst", "").strip() or "anonymous analyst"


def resume_or_explain(run_id: UUID, values: dict, pause_key: str, key: str) -> bool:
    """Resume a paused run, showing why not when the input is invalid or the pause is over."""
    try:
        gateway.resume(run_id, values, pause_key=pause_key, analyst=analyst_name())
    except InputInvalid as exc:
        st.error(str(exc))
        return False
    except gateway.PauseStale as exc:
        st.warning(f"{exc} Refresh to see where the run is now.")
        st.button("Refresh", key=f"{key}.refresh", icon=":material/refresh:")
        return False
    st.success("Resumed.")
    return True


def pause_form(run_id: UUID, key: str) -> bool:
    """Show the form a paused run waits for and resume it on a valid submit. True when resumed."""
    pending = gateway.pending_input(run_id)
    if pending is None:
        st.info("This run is paused; its form is being prepared.")
        return False
    values = render_pause_form(pending.schema, key=key, description=pending.description, hidden=("resumed_by",))
    return values is not None and resume_or_explain(run_id, values, pending.pause_key, key)


def recent_logs(run_id: UUID, limit: int = 30) -> None:
    lines = gateway.logs(run_id, limit=limit)
    with st.expander(f"Recent logs ({len(lines)})"):
        st.code("\n".join(f"{line.timestamp:%H:%M:%S} {line.message}" for line in lines) or "No logs yet.")


def _progress_signature(run_id: UUID, status: str | None = None) -> tuple:
    status = status or gateway.run(run_id).status
    children = tuple(child.status for child in gateway.child_runs(run_id))
    return status, len(gateway.artifacts(run_id)), children


def live_until_settled(
    run: gateway.RunSummary, label: str = "Run is running…", body: Callable[[], None] | None = None
) -> None:
    """Refresh a scheduled or running run every second (drawing `body`, e.g. a progress bar, each time);
    rerun the page once it changes (its status, its artifacts or its subflows), so results show at once."""
    # Compared with the status the page was drawn with, so a change during this run is not missed.
    seen = _progress_signature(run.id, run.status)

    @st.fragment(run_every=1.0)
    def _watch() -> None:
        if _progress_signature(run.id) != seen:
            st.rerun()
        if body is not None:
            body()
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
