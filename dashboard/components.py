"""Pieces several pages share: backend status, a run's header, its pause form, its logs."""

from __future__ import annotations

from uuid import UUID

import streamlit as st

from dashboard import gateway
from dashboard.forms import render_pause_form
from pipelines.backend import BackendStartError, BackendStatus
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


def run_header(run: gateway.RunSummary) -> None:
    st.markdown(f"**{run.flow_name}** · `{run.name}` · {STATUS_BADGES[run.status]} · [open in Prefect]({run.ui_url})")
    if run.message and run.status in {"failed", "crashed", "cancelled"}:
        st.error(run.message)


def pause_form(run_id: UUID, key: str) -> bool:
    """Show the form a paused run waits for and resume it on a valid submit. True when resumed."""
    pending = gateway.pending_input(run_id)
    if pending is None:
        st.info("This run is paused; its form is being prepared.")
        return False
    values = render_pause_form(pending.schema, key=key, description=pending.description)
    if values is None:
        return False
    try:
        gateway.resume(run_id, values, pause_key=pending.pause_key)
    except InputInvalid as exc:
        st.error(str(exc))
        return False
    except gateway.PauseStale as exc:
        st.warning(f"{exc} Refresh to see where the run is now.")
        st.button("Refresh", key=f"{key}.refresh")
        return False
    st.success("Resumed.")
    return True


def recent_logs(run_id: UUID, limit: int = 30) -> None:
    lines = gateway.logs(run_id, limit=limit)
    with st.expander(f"Recent logs ({len(lines)})"):
        st.code("\n".join(f"{line.timestamp:%H:%M:%S} {line.message}" for line in lines) or "No logs yet.")


def live_until_settled(run_id: UUID, status: str) -> None:
    """Refresh a scheduled or running run every second; rerun the page once its status changes."""

    @st.fragment(run_every=1.0)
    def _watch() -> None:
        current = gateway.run(run_id)
        if current.status != status:
            st.rerun()
        st.status(f"Run is {current.state_name.lower()}…", state="running")

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
