"""The crowd results page's parts: batch warnings, workers judged on golden items, leaving workers out and
re-aggregating, the final table with its downloads, and the aggregation methods before and after."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.express as px
import streamlit as st

from pipelines.core.aggregation import AggregationResult, AnswersInvalid, compare_methods, disagreements
from pipelines.core.crowd import spreadsheet_safe
from pipelines.core.markdown import escape_markdown


def show_warnings(where: st.delta_generator.DeltaGenerator, warnings: Sequence[str]) -> None:
    for warning in warnings:
        where.warning(escape_markdown(warning), icon=":material/warning:")


@st.cache_data(show_spinner="Aggregating with every method…")
def methods_on(answers: pd.DataFrame, golden: pd.Series, excluded: tuple[str, ...],
               ) -> tuple[pd.DataFrame, dict[str, AggregationResult]]:
    """Every aggregation method on the answers less the excluded workers' (cached: reruns redraw often)."""
    return compare_methods(answers, golden, exclude_workers=excluded)


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


def final_section(final: pd.DataFrame, shown: pd.DataFrame, excluded: Sequence[str]) -> None:
    """The final table shown (the run's, or re-aggregated without `excluded`), its filters and downloads."""
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
    st.dataframe(filtered, hide_index=True, key="crowd.final")
    st.download_button("CSV", spreadsheet_safe(filtered).to_csv(index=False), f"{name}.csv", key="crowd.csv")
    st.download_button("Parquet", filtered.to_parquet(index=False), f"{name}.parquet", key="crowd.parquet")
    st.plotly_chart(px.histogram(shown, x="label", color="source", title="Label distribution"),
                    key="crowd.labels_chart")


def methods_section(answers: pd.DataFrame, golden: pd.Series, excluded: Sequence[str]) -> None:
    """Every method's golden accuracy on all the answers and, with workers left out, without theirs."""
    st.subheader("Aggregation methods on the same answers")
    before, results = methods_on(answers, golden, ())
    table = before.rename(columns={"accuracy": "golden accuracy"})
    if excluded:
        try:
            after, _ = methods_on(answers, golden, tuple(excluded))
        except AnswersInvalid as exc:
            st.error(str(exc))
        else:
            table = table.rename(columns={"golden accuracy": "golden accuracy, every worker"}).merge(
                after[["method", "accuracy", "n_gold"]].rename(columns={
                    "accuracy": f"golden accuracy without {len(excluded)} worker(s)",
                    "n_gold": "n_gold without"}), on="method")
    st.dataframe(table, hide_index=True, key="crowd.methods")
    st.caption(f"{len(disagreements(results))} items where the methods disagree (every worker's answers).")
