"""The crowd results page's parts: batch warnings, workers judged on golden items, leaving workers out and
re-aggregating, the final table with its downloads (and the labels the model's vote changed), how much people
agree, and the aggregation methods before and after."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.express as px
import streamlit as st

from pipelines.core.aggregation import (
    METHODS,
    AggregationMethod,
    AggregationResult,
    AnswersInvalid,
    compare_methods,
    disagreements,
)
from pipelines.core.agreement import Agreement, batch_agreement, disagreement_list, item_uncertainty
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.crowd import spreadsheet_csv
from pipelines.core.markdown import escape_markdown
from pipelines.core.run_data import run_data_store


def show_warnings(where: st.delta_generator.DeltaGenerator, warnings: Sequence[str]) -> None:
    for warning in warnings:
        where.warning(escape_markdown(warning), icon=":material/warning:")


# GLAD and MACE take seconds where the others take milliseconds: they run only when asked for.
SLOW_METHODS: tuple[AggregationMethod, ...] = ("GLAD", "MACE")
QUICK_METHODS: tuple[AggregationMethod, ...] = tuple(m for m in METHODS if m not in SLOW_METHODS)


@st.cache_data(show_spinner="Aggregating…", max_entries=256)
def _method_on(run_id: str, batch_id: int, n_answers: int, excluded: tuple[str, ...], method: AggregationMethod,
               _answers: pd.DataFrame, _golden: pd.Series) -> tuple[pd.DataFrame, AggregationResult]:
    # Keyed by the crowd run, its batch and how many answers it has (a batch's answers only grow), not by
    # hashing the frames; each method on its own, so asking for one more method computes only that one.
    table, results = compare_methods(_answers, _golden, methods=(method,), exclude_workers=excluded)
    return table, results[method]


def methods_on(run_id: str, batch_id: int, answers: pd.DataFrame, golden: pd.Series, excluded: Sequence[str],
               methods: Sequence[AggregationMethod] = QUICK_METHODS,
               ) -> tuple[pd.DataFrame, dict[str, AggregationResult]]:
    """`methods` on a crowd run's batch less the excluded workers' answers, each computed once per answer count
    (reruns redraw often)."""
    found = {method: _method_on(run_id, batch_id, len(answers), tuple(excluded), method, answers, golden)
             for method in methods}
    return (pd.concat([table for table, _ in found.values()], ignore_index=True),
            {method: result for method, (_, result) in found.items()})


@st.cache_data(show_spinner="Measuring agreement…")
def agreement_on(batch_id: int, n_answers: int, _answers: pd.DataFrame) -> tuple[Agreement, pd.Series]:
    """A batch's alpha and its items' uncertainty, cached per batch and answer count (the answers themselves are
    not hashed: a batch's answers only grow)."""
    return batch_agreement(_answers), item_uncertainty(_answers)


def final_table(outcome: dict) -> pd.DataFrame | None:
    """A crowd loop's final table as its run stored it (`outcome` is its result), read from the run data."""
    return AutohelperStore.for_run(run_data_store(), outcome["autohelper_run_id"]).read("final")


def manual_predictions(outcome: dict) -> pd.DataFrame | None:
    """The model's predictions on a crowd loop's manual items, for the model to vote again when re-aggregating."""
    return AutohelperStore.for_run(run_data_store(), outcome["autohelper_run_id"]).read("manual")


def _why(worker: pd.Series) -> str:
    if worker.flag == "no golden answers":
        return "no golden answers"
    return (f"{worker.flag}: {worker.golden_correct} of {worker.golden_answers} golden right, 95% interval "
            f"{worker.ci_low:.0%}–{worker.ci_high:.0%}")


def workers_section(workers: pd.DataFrame, chance: float) -> list[str]:
    """The workers on golden items, flagged ones first; returns those the analyst leaves out."""
    st.subheader("Workers on golden items")
    ordered = (workers.assign(ok=workers.flag == "ok").sort_values(["ok", "golden_accuracy"], na_position="first")
               .drop(columns="ok"))
    st.dataframe(ordered, hide_index=True, key="crowd.workers", column_config={
        "golden_accuracy": st.column_config.NumberColumn(format="percent"),
        "ci_low": st.column_config.NumberColumn("95% low", format="percent"),
        "ci_high": st.column_config.NumberColumn("95% high", format="percent")})
    st.caption(f"A worker is flagged when the 95% interval of their golden accuracy reaches chance ({chance:.0%}): "
               "they are not shown to do better than guessing.")
    why = {worker.worker: _why(worker) for _, worker in ordered.iterrows()}
    excluded = st.multiselect(
        "Leave workers out and re-aggregate", list(ordered.worker), key="crowd.exclude",
        format_func=lambda worker: f"{worker} ({why[worker]})" if worker in why else worker,
        help="Flagged workers come first, with why. The run's own final table stays its record; the table below "
             "is re-aggregated without these workers, and the downloads hold it.")
    st.plotly_chart(px.scatter(workers, x="answers", y="golden_accuracy", color="flag", hover_name="worker",
                               title="Workers: answers and golden accuracy"), key="crowd.workers_chart")
    return excluded


def _changed(final: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    both = final[["item", "text", "label", "source"]].merge(shown[["item", "label", "source"]], on="item",
                                                         suffixes=(" (run)", " (re-aggregated)"))
    return both[(both["label (run)"] != both["label (re-aggregated)"])
                | (both["source (run)"] != both["source (re-aggregated)"])]


def final_section(final: pd.DataFrame, shown: pd.DataFrame, excluded: Sequence[str], model_votes: bool = False,
                  ) -> None:
    """The final table shown (the run's, or re-aggregated without `excluded`), its filters and downloads; with
    `model_votes`, how many labels the model's vote changed and a filter for them."""
    name = "aggregated_sentiment"
    if excluded:
        name = "reaggregated_sentiment"
        st.subheader(f"Aggregated sentiment, re-aggregated without {len(excluded)} worker(s)")
        changed = _changed(final, shown)
        st.caption(f"Re-aggregated here, live: {len(changed)} items changed. The run's own final table is its "
                   "record and stays as it was; this table and its downloads are the re-aggregated one.")
        st.dataframe(changed, hide_index=True, key="crowd.changed")
    else:
        st.subheader("Aggregated sentiment")
    left, middle, right = st.columns(3)
    sources = left.multiselect("Source", sorted(shown.source.unique()), key="crowd.sources")
    labels = middle.multiselect("Label", sorted(shown.label.dropna().unique()), key="crowd.labels")
    low = right.slider("Only scores below", 0.0, 1.0, 1.0, 0.05, key="crowd.low")
    filtered = shown[(shown.source.isin(sources) if sources else True)
                     & (shown.label.isin(labels) if labels else True) & (shown.score.fillna(0) <= low)]
    if model_votes and "model_influenced" in shown.columns:
        st.metric("Labels the model's vote changed", int(shown.model_influenced.sum()), border=True,
                  help="Items whose label with the model as one more voter differs from people's answers alone.")
        if st.checkbox("Only labels the model's vote changed", key="crowd.influenced"):
            filtered = filtered[filtered.model_influenced]
    st.dataframe(filtered, hide_index=True, key="crowd.final")
    st.download_button("CSV", spreadsheet_csv(filtered), f"{name}.csv", key="crowd.csv")
    st.download_button("Parquet", filtered.to_parquet(index=False), f"{name}.parquet", key="crowd.parquet")
    # Counted here, not by plotly in the browser: a 100k-item table would otherwise travel in every redraw.
    counts = shown.groupby(["label", "source"]).size().reset_index(name="items")
    st.plotly_chart(px.bar(counts, x="label", y="items", color="source", title="Label distribution"),
                    key="crowd.labels_chart")


def methods_section(run_id: str, batch_id: int, answers: pd.DataFrame, golden: pd.Series,
                    excluded: Sequence[str]) -> None:
    """The methods' golden accuracy on all the answers and, with workers left out, without theirs; GLAD and MACE
    on demand."""
    st.subheader("Aggregation methods on the same answers")
    slow = st.toggle(f"Also compare {' and '.join(SLOW_METHODS)} (slower)", key="crowd.slow_methods",
                     help="Computed once per batch and answer count when switched on.")
    methods = QUICK_METHODS + (SLOW_METHODS if slow else ())
    before, results = methods_on(run_id, batch_id, answers, golden, (), methods)
    table = before.rename(columns={"accuracy": "golden accuracy"})
    if excluded:
        try:
            after, _ = methods_on(run_id, batch_id, answers, golden, excluded, methods)
        except AnswersInvalid as exc:
            st.error(str(exc))
        else:
            table = table.rename(columns={"golden accuracy": "golden accuracy, every worker"}).merge(
                after[["method", "accuracy", "n_gold"]].rename(columns={
                    "accuracy": f"golden accuracy without {len(excluded)} worker(s)",
                    "n_gold": "n_gold without"}), on="method")
    st.dataframe(table, hide_index=True, key="crowd.methods")
    st.caption(f"{len(disagreements(results))} items where the methods shown disagree (every worker's answers).")


def agreement_section(batch_id: int, answers: pd.DataFrame, shown: pd.DataFrame) -> None:
    """Krippendorff's alpha in a metric and in plain words, and the items people disagree on, most uncertain
    first."""
    st.subheader("Agreement between people")
    agreement, uncertainty = agreement_on(batch_id, len(answers), answers)
    disputed = disagreement_list(answers, shown, uncertainty)
    left, right = st.columns(2)
    left.metric("Krippendorff's alpha", "–" if pd.isna(agreement.alpha) else f"{agreement.alpha:.2f}", border=True,
                help="Agreement beyond chance: 1 perfect, 0 what chance gives; 0.8 and above is reliable.")
    right.metric("Items people disagree on", len(disputed), border=True)
    st.caption(agreement.reading)
    st.dataframe(disputed, hide_index=True, key="crowd.disagreements", column_config={
        "uncertainty": st.column_config.NumberColumn(
            format="%.2f", help="Entropy of the answers' label shares: 0 all agree, 0.69 an even two-way split.")})
