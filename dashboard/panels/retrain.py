"""The crowd results page's retraining part: refit the offline autohelper on human labels, compare rounds."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import gateway
from dashboard.ui.access import current_role
from dashboard.ui.components import accuracy_of_choice, analyst_name, live_until_settled, run_header
from dashboard.panels.crowd_results import show_warnings
from pipelines.catalog import AUTOHELPER, RETRAIN
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.retrain import golden_accuracy_at, task_accuracy_at
from pipelines.core.run_data import run_data_store
from pipelines.core.threshold import ACCURACY_OF_LABELS, AccuracyOf

DEFAULT_TARGET = 0.95
SUSPICIOUS_AGREEMENT = 0.995  # a refit head agreeing with (nearly) every crowd label has copied them, right or wrong

EXPLANATION = (
    "The offline MiniLM model refits on the golden items plus the crowd's aggregated labels. Both models are held "
    "to the same golden accuracy, and the next round is every task item; items the "
    "retrained model learnt from are scored out-of-fold, so it gets no credit for labels it has seen."
)


def _latest_retrain(autohelper_run_id: str, batch_id: int | None, database_url: str | None
                    ) -> gateway.RunSummary | None:
    """The newest retrain on this crowd loop's labels: the same autohelper run may have had other crowd loops."""
    runs = gateway.recent_runs(limit=20, flow_name=RETRAIN.flow)
    return next((r for r in runs if (r.parameters.get("autohelper_run_id"), r.parameters.get("batch_id"),
                                     r.parameters.get("database_url")) == (autohelper_run_id, batch_id, database_url)),
                None)


def _forecasts(report: dict[str, Any]) -> pd.DataFrame:
    rows = [{"model": name, **report[key]} for key, name in (("before", "before"), ("after", "after retraining"))]
    return pd.DataFrame(rows)[["model", "threshold", "to_crowd", "accepted", "golden_accepted", "golden_accuracy",
                               "dataset_accuracy"]]


def _show_report(report: dict[str, Any]) -> None:
    before, after = report["before"]["to_crowd"], report["after"]["to_crowd"]
    warnings = report.get("warnings", [])  # reports from before warnings existed have none
    show_warnings(st.container(), warnings)
    left, middle, right = st.columns(3)
    # More items to people, or a lower golden accuracy, is a worsening: red, never a gain.
    left.metric("To people next round", after, delta=after - before, delta_color="inverse",
                help=f"{before} before retraining")
    if "golden_accuracy_after" in report:
        change = report["golden_accuracy_after"] - report["golden_accuracy_before"]
        middle.metric("Golden accuracy after", f"{report['golden_accuracy_after']:.1%}",
                      delta=f"{change:+.1%}", delta_color="normal",
                      help=f"Every golden item, scored out-of-fold; {report['golden_accuracy_before']:.1%} before")
    else:
        middle.metric("Target golden accuracy", f"{report['target_accuracy']:.1%}")
    right.metric("Agreement with the crowd", f"{report['crowd_agreement']:.1%}",
                 help="Of the retrained model's out-of-fold labels with the aggregated crowd labels")
    if warnings:
        right.caption("High agreement with labels the warnings doubt is no gain: the model learnt their mistakes "
                      "too.")
    elif report["crowd_agreement"] >= SUSPICIOUS_AGREEMENT:
        right.caption("Agreeing with every crowd label says the model learnt them, not that they are right: "
                      "judge them by the golden accuracy and the crowd's golden answers.")
    forecasts = _forecasts(report)
    st.dataframe(forecasts, hide_index=True, key="retrain.forecasts", column_config={
        "to_crowd": "to people", "golden_accuracy": st.column_config.NumberColumn(format="percent"),
        "dataset_accuracy": st.column_config.NumberColumn(
            "dataset accuracy", format="percent", help="Accepted items against the dataset's own labels")})
    chart = forecasts.melt(id_vars="model", value_vars=["accepted", "to_crowd"], var_name="goes to",
                           value_name="items").replace({"to_crowd": "people", "accepted": "model"})
    st.plotly_chart(px.bar(chart, x="model", y="items", color="goes to", barmode="stack",
                           title=f"Next round at {report['target_accuracy']:.1%} accuracy of the "
                                 f"{ACCURACY_OF_LABELS[report.get('accuracy_of', 'golden')]}"),
                    key="retrain.chart")
    st.caption(f"Trained on {report['golden']} golden and {report['crowd_labels']} crowd labels.")
    if report["after"]["golden_accepted"] < 30:
        st.warning(f"The accuracy rests on {report['after']['golden_accepted']} golden items: add golden items "
                   "before trusting the difference.")


def _use_as_next_model(version_id: str, parameters: dict[str, Any]) -> None:
    """Start the next autohelper run on the same data with the saved version as its model, and pin it there."""
    if current_role() != "analyst":  # the handler runs before the page's guard: the role may be gone by now
        return
    run_id = gateway.start_run(AUTOHELPER, {**parameters, "model": version_id, "model_mode": "auto"},
                               analyst=analyst_name())
    st.session_state["autohelper.run_id"] = run_id
    st.session_state["retrain.next_run"] = (version_id, str(run_id))


def _next_round(report: dict[str, Any], autohelper_run: gateway.RunSummary) -> None:
    """The saved version and one click to make it the next run's model, with the same dataset parameters."""
    version_id = report.get("model_version")
    if not version_id:
        return  # reports from before versions existed saved none
    st.caption(f"Saved as model version {version_id} ({report.get('model_version_name', '')}).")
    st.button("Use as the next run's model", key=f"retrain.use.{version_id}", icon=":material/replay:",
              on_click=_use_as_next_model, args=(version_id, dict(autohelper_run.parameters)),
              help="Starts a new autohelper run on the same dataset and split, labelled by this version.")
    started = st.session_state.get("retrain.next_run")
    if started and started[0] == version_id:
        st.success(f"Started the next round with {version_id}.")
        st.page_link("views/autohelper.py", label="Follow it on the autohelper page", icon=":material/arrow_forward:",
                     query_params={"run": started[1]})


def _default_target(autohelper_run_id: str, threshold: float, accuracy_of: AccuracyOf) -> tuple[float, str]:
    predictions = AutohelperStore.for_run(run_data_store(), autohelper_run_id).read("predictions")
    accuracy_at = golden_accuracy_at if accuracy_of == "golden" else task_accuracy_at
    accuracy = accuracy_at(predictions, threshold) if predictions is not None else None
    items = "golden" if accuracy_of == "golden" else "task"
    if accuracy is None:
        return DEFAULT_TARGET, (f"The confirmed threshold {threshold:.3f} accepted no {items} item, so the target "
                                f"starts at {DEFAULT_TARGET:.0%}.")
    return accuracy, (f"The accuracy of the {ACCURACY_OF_LABELS[accuracy_of]} at the confirmed threshold "
                      f"{threshold:.3f}.")


def retrain_section(outcome: dict[str, Any], database_url: str | None = None) -> None:
    """Start a retrain on the crowd loop's stored final table (`outcome` is its result) and show the latest one;
    `database_url` is the crowd's answer store, so the report can judge the crowd's golden answers."""
    st.subheader("Retrain the autohelper on human labels")
    st.caption(EXPLANATION)
    autohelper_run_id = outcome.get("autohelper_run_id")
    split = gateway.result(UUID(autohelper_run_id)) if autohelper_run_id else None
    if not split:
        st.info("This crowd loop's autohelper run is gone or unfinished, so there is nothing to compare with.")
        return
    accuracy_of = accuracy_of_choice("Hold to the target the accuracy of the",
                                     key=f"retrain.accuracy_of.{autohelper_run_id}", horizontal=True)
    default, why = _default_target(autohelper_run_id, split["threshold"], accuracy_of)
    # Keyed by run and rule: a target typed for one run, or one accuracy, never carries over to another.
    target = st.number_input("Target accuracy", 0.5, 1.0, round(default, 4), 0.01, format="%.4f",
                             key=f"retrain.target.{autohelper_run_id}.{accuracy_of}", help=why)
    latest = _latest_retrain(autohelper_run_id, outcome.get("batch_id"), database_url)
    running = latest is not None and latest.status in {"scheduled", "running"}
    if st.button("Retrain the autohelper on human labels", key="retrain.start", disabled=running,
                 icon=":material/model_training:"):
        gateway.start_run(RETRAIN, {"autohelper_run_id": autohelper_run_id, "target_accuracy": target,
                                    "batch_id": outcome.get("batch_id"), "database_url": database_url,
                                    "round_one_threshold": split["threshold"], "accuracy_of": accuracy_of},
                         analyst=analyst_name())
        st.rerun()
    if latest is None:
        return
    run_header(latest)
    if running:
        live_until_settled(latest, "Retraining…")
    elif latest.status == "completed" and (report := gateway.result(latest.id)):
        _show_report(report)
        _next_round(report, gateway.run(UUID(autohelper_run_id)))
