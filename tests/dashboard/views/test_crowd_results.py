"""Crowd results against a real backend: a worker who flips every label is flagged, left out, and the page
re-aggregates live; retraining on a flipping crowd is shown as the drop it is (AppTest, widgets by key)."""

from __future__ import annotations

import io
from pathlib import Path
from uuid import UUID

import pandas as pd
from streamlit.proto.Metric_pb2 import Metric
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from dashboard import gateway
from pipelines.catalog import AUTOHELPER, CROWD_LOOP, RETRAIN
from pipelines.core.agreement import batch_agreement, krippendorff_alpha
from pipelines.core.answer_store import AnswerStore
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.markdown import escape_markdown
from pipelines.core.model_versions import load_version
from pipelines.core.run_data import run_data_store
from tests.conftest import wait_for_pending_input, wait_for_status
from tests.dashboard.apptest import page_app

FLIP = {"pos": "neg", "neg": "pos"}


class _KeptMediaStorage(MemoryMediaFileStorage):
    """AppTest's media storage, kept after the run so a test can read what a download button would give."""

    last: _KeptMediaStorage | None = None

    def __init__(self, media_endpoint: str) -> None:
        super().__init__(media_endpoint)
        _KeptMediaStorage.last = self


def _crowd_run(autohelper_split: str, tmp_path: Path, workers: dict[str, bool], overlap: int) -> tuple[object, str]:
    """A local crowd loop where each worker answers every item served, and every golden item, from the truth
    (True: an oracle) or against it (False: flips every label); then the analyst collects."""
    url = f"sqlite:///{tmp_path / 'people.db'}"
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "local",
                                               "overlap": overlap, "database_url": url})
    wait_for_pending_input(crowd_run)
    store = AnswerStore(url)
    [batch] = store.open_batches()
    golden = store.golden_labels(batch.id)
    truth = pd.concat([_truth(autohelper_split), golden])
    for worker, honest in workers.items():
        while (item := store.next_item_for(batch.id, worker)) is not None:
            label = truth[item.task] if honest else FLIP[truth[item.task]]
            assert store.record_answer(batch.id, item.task, worker, label) == "stored"
        for task, label in golden.items():
            assert store.record_answer(batch.id, task, worker, label if honest else FLIP[label]) in {
                "stored", "duplicate"}
    gateway.resume(crowd_run, {"collect_now": True}, analyst="Lee")
    assert wait_for_status(crowd_run, {"completed", "failed"}).status == "completed"
    return crowd_run, url


def _truth(autohelper_split: str) -> pd.Series:
    return AutohelperStore.for_run(run_data_store(), autohelper_split).read("manual").set_index(
        "item_id").true_label


def _results_page() -> AppTest:
    app = page_app("views/crowd_results.py", timeout=120)
    app.run()
    assert not app.exception, app.exception
    return app


def _frame_with(app: AppTest, column: str) -> pd.DataFrame:
    return next(frame.value for frame in app.dataframe if column in frame.value.columns)


def _download(app: AppTest, label: str) -> bytes:
    [button] = [b for b in app.get("download_button") if b.proto.label == label]
    return _KeptMediaStorage.last.get_file(button.proto.url.rsplit("/", 1)[-1]).content


def test_a_flipping_worker_is_flagged_left_out_and_the_page_reaggregates(autohelper_split: str, tmp_path,
                                                                        monkeypatch) -> None:
    monkeypatch.setattr("streamlit.testing.v1.app_test.MemoryMediaFileStorage", _KeptMediaStorage)
    crowd_run, _ = _crowd_run(autohelper_split, tmp_path, {"ana": True, "flip": False}, overlap=2)
    stored = pd.read_parquet(gateway.result(crowd_run)["final"])
    truth = _truth(autohelper_split)

    app = _results_page()
    assert any("right 50% of the time" in w.value and "no better than chance" in w.value for w in app.warning)
    workers = _frame_with(app, "flag")
    assert list(workers.worker) == ["flip", "ana"]  # flagged first
    assert list(workers.flag) == ["worse than chance", "ok"] and list(workers.golden_correct) == [0, 20]
    exclude = app.multiselect(key="crowd.exclude")
    assert exclude.value == []  # nothing left out until the analyst says so
    assert exclude.options[0].startswith("flip (worse than chance: 0 of 20 golden right")

    exclude.set_value(["flip"]).run()
    assert not app.exception, app.exception
    assert any("re-aggregated without 1 worker" in s.value for s in app.subheader)
    shown = _frame_with(app, "score")
    crowd = shown[shown.source == "crowd"].set_index("item").label
    assert len(crowd) == len(truth) and crowd.to_dict() == truth.to_dict()  # ana's answers, which are the truth
    assert not any("no better than chance" in w.value for w in app.warning)
    methods = _frame_with(app, "golden accuracy without 1 worker(s)")
    assert (methods["golden accuracy without 1 worker(s)"] == 1.0).all()
    downloaded = pd.read_csv(io.BytesIO(_download(app, "CSV")))
    assert downloaded.set_index("item").label.to_dict() == shown.set_index("item").label.to_dict()
    changed = _frame_with(app, "label (re-aggregated)")
    assert set(changed.item) == set(stored.item[stored.label != shown.label])
    # The run's record is untouched: the stored final table still has the labels aggregated from everyone.
    pd.testing.assert_frame_equal(pd.read_parquet(gateway.result(crowd_run)["final"]), stored)


def test_retraining_on_a_flipping_crowd_is_shown_as_a_drop(autohelper_split: str, tmp_path) -> None:
    crowd_run, url = _crowd_run(autohelper_split, tmp_path, {"flip": False}, overlap=1)
    app = _results_page()
    assert any("right 0% of the time" in w.value for w in app.warning)
    app.button(key="retrain.start").click().run()
    retrain = next(r for r in gateway.recent_runs(limit=5, flow_name=RETRAIN.flow)
                   if r.parameters.get("database_url") == url)
    assert retrain.parameters["batch_id"] == gateway.result(crowd_run)["batch_id"]
    assert wait_for_status(retrain.id, {"completed", "failed"}, timeout=180).status == "completed"
    report = gateway.result(retrain.id)
    assert report["golden_accuracy_after"] < report["golden_accuracy_before"]  # it learnt flipped labels

    app.run()
    assert not app.exception, app.exception
    shown = [w.value for w in app.warning]  # as written: markdown characters escaped
    assert all(escape_markdown(warning) in shown for warning in report["warnings"])
    assert any(escape_markdown("Worse after retraining: the model is right on") in value for value in shown)
    golden = next(m for m in app.metric if m.label == "Golden accuracy after")
    assert golden.proto.delta.startswith("-") and golden.proto.color == Metric.MetricColor.RED
    people = next(m for m in app.metric if m.label == "To people next round")
    if report["after"]["to_crowd"] > report["before"]["to_crowd"]:
        assert people.proto.color == Metric.MetricColor.RED
    assert any("no gain" in c.value for c in app.caption)


def test_agreement_and_model_votes_are_shown_with_the_disagreements_most_uncertain_first(autohelper_split: str,
                                                                                        tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'people.db'}"
    crowd_run = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "local",
                                               "overlap": 3, "database_url": url, "model_votes": True})
    wait_for_pending_input(crowd_run)
    store = AnswerStore(url)
    [batch] = store.open_batches()
    truth = pd.concat([_truth(autohelper_split), store.golden_labels(batch.id)])
    # ana reads the truth, cy flips every label, ben answers ten items truly and stops: items split 1-1 (ben
    # absent) and 2-1 (ben there).
    for worker, limit in (("ana", None), ("cy", None), ("ben", 10)):
        answered = 0
        while (limit is None or answered < limit) and (item := store.next_item_for(batch.id, worker)):
            label = FLIP[truth[item.task]] if worker == "cy" else truth[item.task]
            assert store.record_answer(batch.id, item.task, worker, label) == "stored"
            answered += 1
    gateway.resume(crowd_run, {"collect_now": True}, analyst="Lee")
    assert wait_for_status(crowd_run, {"completed", "failed"}).status == "completed"
    stored = pd.read_parquet(gateway.result(crowd_run)["final"])
    answers = store.answers(batch.id)

    app = _results_page()
    alpha = next(m for m in app.metric if m.label == "Krippendorff's alpha")
    assert alpha.value == f"{krippendorff_alpha(answers):.2f}"
    assert any(c.value == batch_agreement(answers).reading for c in app.caption)
    disputed = _frame_with(app, "votes")
    on_tasks = answers[~answers.task.isin(store.golden_labels(batch.id).index)]  # golden: the workers' table
    by_answers = on_tasks.groupby("task").label.nunique()
    assert set(disputed.item.astype(str)) == set(by_answers[by_answers > 1].index)
    assert disputed.uncertainty.is_monotonic_decreasing and disputed.uncertainty.nunique() == 2
    assert set(disputed.votes.head(1)) <= {"neg 1 · pos 1", "pos 1 · neg 1"}  # the even splits come first

    influenced = next(m for m in app.metric if m.label == "Labels the model's vote changed")
    assert influenced.value == str(int(stored.model_influenced.sum()))
    app.checkbox(key="crowd.influenced").check().run()
    assert not app.exception, app.exception
    assert set(_frame_with(app, "score").item) == set(stored.item[stored.model_influenced])


def test_aggregations_are_computed_once_per_batch_and_answer_count_and_the_slow_ones_on_demand(
        autohelper_split: str, tmp_path, monkeypatch) -> None:
    import streamlit as st

    from dashboard.panels import crowd_results as crowd_results_panel

    st.cache_data.clear()
    computed: list[tuple[str, tuple[str, ...]]] = []
    real = crowd_results_panel.compare_methods

    def counting(answers, gold=None, methods=(), exclude_workers=()):
        computed.extend((method, tuple(exclude_workers)) for method in methods)
        return real(answers, gold, methods=methods, exclude_workers=exclude_workers)

    monkeypatch.setattr(crowd_results_panel, "compare_methods", counting)
    _crowd_run(autohelper_split, tmp_path, {"ana": True, "flip": False}, overlap=2)
    app = _results_page()
    app.run()
    app.run()  # reruns, as every click gives, compute nothing again
    assert sorted(computed) == sorted((method, ()) for method in crowd_results_panel.QUICK_METHODS)
    assert set(_frame_with(app, "golden accuracy").method) == set(crowd_results_panel.QUICK_METHODS)

    computed.clear()
    app.toggle(key="crowd.slow_methods").set_value(True).run()
    app.run()
    assert sorted(computed) == [("GLAD", ()), ("MACE", ())]  # only the two asked for, once
    assert len(_frame_with(app, "golden accuracy")) == 6


def test_a_retrained_version_is_the_next_runs_model_in_one_click(autohelper_split: str, tmp_path) -> None:
    _crowd_run(autohelper_split, tmp_path, {"ana": True}, overlap=1)
    app = _results_page()
    # Keyed by run and by the accuracy held to it: never carried over.
    assert app.number_input(key=f"retrain.target.{autohelper_split}.calibrated")
    app.button(key="retrain.start").click().run()
    [retrain] = gateway.recent_runs(limit=1, flow_name=RETRAIN.flow)
    assert retrain.parameters["round_one_threshold"] == gateway.result(UUID(autohelper_split))["threshold"]
    assert retrain.parameters["accuracy_of"] == "calibrated"
    assert wait_for_status(retrain.id, {"completed", "failed"}, timeout=180).status == "completed"
    version_id = gateway.result(retrain.id)["model_version"]

    app.run()
    assert not app.exception, app.exception
    forecasts = _frame_with(app, "to_crowd").set_index("model")
    assert forecasts.loc["before", "to_crowd"] == len(_truth(autohelper_split))  # what round one sent
    assert any(version_id in c.value for c in app.caption)
    app.button(key=f"retrain.use.{version_id}").click().run()
    assert not app.exception, app.exception
    [next_run] = gateway.recent_runs(limit=1, flow_name=AUTOHELPER.flow)
    split_parameters = gateway.run(UUID(autohelper_split)).parameters
    assert next_run.parameters == {**split_parameters, "model": version_id, "model_mode": "auto"}
    assert app.session_state["autohelper.run_id"] == next_run.id
    wait_for_pending_input(next_run.id, timeout=240)
    predictions = AutohelperStore.for_run(run_data_store(), str(next_run.id)).read("predictions")
    assert set(predictions.model_version) == {version_id}
    gateway.resume(next_run.id, {"threshold": 0.9})
    assert wait_for_status(next_run.id, {"completed", "failed"}).status == "completed"

    picker = page_app("views/autohelper.py", timeout=120)
    picker.run()
    picker.radio(key="autohelper.model_kind").set_value("A saved version").run()
    assert not picker.exception, picker.exception
    version = load_version(run_data_store(), version_id)
    choice = picker.selectbox(key="autohelper.model_version")
    assert version.describe() in choice.options
    choice.set_value(version_id).run()
    picker.button(key="autohelper.start").click().run()
    [started] = gateway.recent_runs(limit=1, flow_name=AUTOHELPER.flow)
    assert (started.parameters["model"], started.parameters["model_mode"]) == (version_id, "auto")
    wait_for_pending_input(started.id, timeout=240)
    gateway.resume(started.id, {"threshold": 0.9})
    assert wait_for_status(started.id, {"completed", "failed"}).status == "completed"
