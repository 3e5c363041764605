"""The live threshold panel of a paused autohelper run: the model's quality, a slider with counts, accuracy, cost
and charts, buttons that solve for a threshold, and the confirm that resumes the run."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import gateway
from dashboard.ui import charts
from dashboard.ui.components import accuracy_of_choice, resume_or_explain
from pipelines.core.autohelper import baseline_warning, majority_baseline
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.markdown import escape_markdown
from pipelines.core.run_data import run_data_store
from pipelines.core.threshold import (
    ACCURACY_OF_LABELS,
    BOUND_LABELS,
    DEFAULT_OVERLAP,
    DEFAULT_REWARD_PER_ANSWER,
    AccuracyOf,
    Bound,
    CrowdCost,
    ThresholdCurve,
)

DECIMALS = 3  # the slider's resolution: every threshold set, shown and sent has this many decimals


@st.cache_resource(max_entries=8)
def _curve(run_id: str, cost: CrowdCost) -> tuple[ThresholdCurve, pd.DataFrame, pd.DataFrame]:
    predictions = AutohelperStore.for_run(run_data_store(), run_id).read("predictions")
    curve = ThresholdCurve.from_predictions(predictions, cost)
    return curve, predictions[predictions.split == "golden"], curve.curve()


def model_quality(golden: pd.DataFrame) -> None:
    """The model's golden accuracy beside always answering the majority label, warning when it does not beat it."""
    accuracy = float(golden.correct.mean())
    label, baseline = majority_baseline(list(golden.true_label))
    left, right = st.columns(2)
    left.metric("Model's golden accuracy", f"{accuracy:.1%}",
                help="On every golden item at full coverage, each scored by a model that never trained on it.")
    right.metric("Majority-class baseline", f"{baseline:.1%}", help="Always answering the most common golden label.")
    st.text(f"Model {golden.model_version.iloc[0]}; the baseline always answers {label!r}.")
    if warning := baseline_warning(accuracy, (label, baseline)):
        st.warning(escape_markdown(warning), icon=":material/warning:")


def _solve_for_target(curve: ThresholdCurve, key: str) -> None:
    """Set the slider to the lowest threshold meeting the target on the chosen accuracy and bound, or say what is
    reachable."""
    target, bound = float(st.session_state[f"{key}.target"]), st.session_state[f"{key}.bound"]
    accuracy_of: AccuracyOf = st.session_state[f"{key}.accuracy_of"]
    point = curve.for_target(target, bound, accuracy_of, decimals=DECIMALS)
    if point is not None:
        st.session_state[key] = point.threshold
        return
    if accuracy_of == "calibrated":
        st.session_state[f"{key}.note"] = (
            f"No threshold reaches {target:.1%} on the {BOUND_LABELS[bound]} of the {ACCURACY_OF_LABELS[accuracy_of]}; "
            f"even the most confident tasks are expected right {curve.highest_expected_task_accuracy(bound):.1%} of "
            "the time.")
        return
    best = curve.best_reachable(bound, decimals=DECIMALS)
    st.session_state[f"{key}.note"] = f"No threshold reaches {target:.1%} on the {BOUND_LABELS[bound]}" + (
        f"; the best reachable is {best.accuracy_bound(bound):.1%}, at threshold {best.threshold:.3f}."
        if best else "; no threshold accepts a golden item.")


def _solve_controls(curve: ThresholdCurve, key: str, seed: float) -> None:
    """Buttons that set the slider: the seed rule, a target accuracy on a chosen bound, a budget."""
    def set_threshold(value: float) -> None:
        st.session_state[key] = min(1.0, value)

    solve, target_col, budget_col = st.columns(3)
    solve.button("Seed rule", key=f"{key}.seed", on_click=set_threshold, args=(seed,),
                 help="90th percentile of confidence on golden items the model got wrong; 0.95 if none.")
    target_col.number_input("Target accuracy", 0.5, 1.0, 0.95, 0.01, key=f"{key}.target")
    bounds: list[Bound] = ["lower", "point"]
    target_col.radio("Solve on the", bounds, format_func=BOUND_LABELS.__getitem__, key=f"{key}.bound",
                     help="95% lower bound: the golden accuracy of accepted items is at least the target with 95% "
                          "confidence (needs more golden evidence). Point estimate: the accuracy measured on golden "
                          "items itself.")
    accuracy_of_choice("Accuracy of the", key=f"{key}.accuracy_of", where=target_col)
    target_col.button("Solve for accuracy", key=f"{key}.solve_target", on_click=_solve_for_target, args=(curve, key))
    budget_col.number_input("Budget", 0.0, value=curve.at(seed).crowd_cost, key=f"{key}.budget")
    budget_col.button("Solve for budget", key=f"{key}.solve_budget", on_click=lambda: set_threshold(
        curve.for_budget(st.session_state[f"{key}.budget"], decimals=DECIMALS).threshold))
    if note := st.session_state.pop(f"{key}.note", None):
        st.warning(note)


def threshold_panel(run: gateway.RunSummary, pending: gateway.PendingInput) -> None:
    """A slider that updates counts, accuracy, cost and charts live; buttons that solve for a threshold.

    Costs are priced as the run prices them: its own overlap and reward parameters."""
    run_id = run.id
    cost = CrowdCost(int(run.parameters.get("overlap", DEFAULT_OVERLAP)),
                     float(run.parameters.get("reward_per_answer", DEFAULT_REWARD_PER_ANSWER)))
    curve, golden, points = _curve(str(run_id), cost)
    key = f"autohelper.{run_id}.threshold"
    seed = round(float(pending.schema["properties"]["threshold"]["default"]), DECIMALS)
    st.session_state.setdefault(key, seed)
    model_quality(golden)
    _solve_controls(curve, key, seed)

    # Rounded as the slider shows it: the counts, the charts and the confirmed value all use this one number.
    threshold = round(float(st.slider("Threshold", 0.0, 1.0, step=0.001, format="%.3f", key=key)), DECIMALS)
    point = curve.at(threshold)
    metrics = st.columns(5)
    metrics[0].metric("Accepted", point.accepted)
    metrics[1].metric("To people", point.manual)
    metrics[2].metric("Golden accuracy", f"{point.accuracy:.1%}" if point.labelled_accepted else "—",
                      help=f"Of accepted golden items: {point.accuracy_text()}.")
    metrics[3].metric("Crowd cost", f"{point.crowd_cost:.2f}")
    metrics[4].metric("Saving", f"{point.saving:.2f}", f"{point.saving_share:.0%}")
    if point.accepted:
        st.caption(f"The {point.accepted} task items accepted are expected right "
                   f"{curve.expected_task_accuracy(threshold, 'point'):.1%} of the time (95% lower bound "
                   f"{curve.expected_task_accuracy(threshold, 'lower'):.1%}), their confidences calibrated on golden.")
    for reason in curve.warnings_for(point):
        st.warning(reason)
    st.plotly_chart(charts.confidence_histogram(golden, threshold), key=f"{key}.histogram")
    st.plotly_chart(charts.accuracy_coverage(points, threshold, point.coverage, point.accuracy), key=f"{key}.curve")
    st.plotly_chart(charts.cost_curve(points, threshold), key=f"{key}.cost")
    # The click goes to the run and pause it was drawn for, never a newer run's.
    st.button(f"Confirm threshold {threshold:.3f}", key=f"autohelper.{run_id}.confirm", type="primary",
              on_click=_confirm_threshold, args=(pending, key))


def _confirm_threshold(pending: gateway.PendingInput, key: str) -> None:
    # The slider's value at the click, not the one bound when the button was drawn: a slider moved just before the
    # click reaches the server in the same rerun as the click, before the button's label could catch up.
    resume_or_explain(pending, {"threshold": round(float(st.session_state[key]), DECIMALS)})
