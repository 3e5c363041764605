"""The autohelper's threshold panel against real runs: what it solves is what the core computes, what it shows is
what it sends, and the model's golden accuracy stands beside the majority-class baseline (AppTest)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import gateway
from pipelines.catalog import AUTOHELPER
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.run_data import run_data_store
from pipelines.core.threshold import ThresholdCurve
from tests.conftest import wait_for_pending_input, wait_for_status
from tests.dashboard.apptest import page_app

pytestmark = pytest.mark.usefixtures("backend")


def _app(run_id: object | None = None) -> AppTest:
    app = page_app("views/autohelper.py")
    if run_id is not None:
        app.session_state["autohelper.run_id"] = run_id
    return app


def _stored(run_id: object) -> tuple[ThresholdCurve, object]:
    """The core's curve over the run's stored predictions, and its golden rows."""
    predictions = AutohelperStore.for_run(run_data_store(), str(run_id)).read("predictions")
    golden = predictions[predictions.split == "golden"]
    tasks = predictions[predictions.split == "task"]
    return ThresholdCurve(golden.confidence.to_numpy(), golden.correct.to_numpy(),
                          tasks.confidence.to_numpy()), golden


def _metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def test_point_estimate_solve_sets_the_core_threshold_and_confirm_sends_what_is_shown() -> None:
    app = _app()
    app.run()
    app.radio(key="autohelper.split").set_value("custom").run()
    app.number_input(key="autohelper.n_tasks").set_value(30)
    app.number_input(key="autohelper.n_golden").set_value(20).run()
    app.selectbox(key="autohelper.model_mode").set_value("Few-shot").run()
    app.button(key="autohelper.start").click().run()
    run_id = app.session_state["autohelper.run_id"]
    parameters = gateway.run(run_id).parameters
    assert (parameters["model"], parameters["model_mode"]) == ("minilm-offline", "few-shot")
    wait_for_pending_input(run_id, timeout=240)
    app.run()
    assert not app.exception
    curve, golden = _stored(run_id)
    assert set(golden.model_version) == {"minilm-offline:few-shot(20 labelled)"}
    assert _metric(app, "Model's golden accuracy") == f"{golden.correct.mean():.1%}"

    key = f"autohelper.{run_id}.threshold"
    target = 0.85
    by_point = curve.for_target_accuracy(target, "point", decimals=3)
    assert by_point is not None  # the few-shot head is right on at least 85% of the golden items it accepts
    # On 20 golden items the lower bound cannot reach 85%: the page says so, and what the best reachable is.
    assert curve.for_target_accuracy(target, "lower", decimals=3) is None
    best = curve.best_reachable("lower", decimals=3)
    app.number_input(key=f"{key}.target").set_value(target).run()
    before = app.slider(key=key).value
    # By default it solves on the accepted tasks' expected accuracy, calibrated on golden; on 20 golden items its
    # lower bound cannot promise 85% either, and the page says how far the most confident tasks get.
    assert curve.for_target(target, "lower", "calibrated", decimals=3) is None
    app.button(key=f"{key}.solve_target").click().run()
    assert (f"No threshold reaches 85.0% on the 95% lower bound of the task items accepted (calibrated on golden); "
            f"even the most confident tasks are expected right {curve.highest_expected_task_accuracy('lower'):.1%} "
            "of the time.") in [w.value for w in app.warning]
    assert app.slider(key=key).value == before
    assert (f"expected right {curve.expected_task_accuracy(before, 'point'):.1%} of the time"
            in " ".join(c.value for c in app.caption))

    app.radio(key=f"{key}.accuracy_of").set_value("golden").run()
    app.button(key=f"{key}.solve_target").click().run()
    assert (f"No threshold reaches 85.0% on the 95% lower bound; the best reachable is {best.ci_low:.1%}, at "
            f"threshold {best.threshold:.3f}.") in [w.value for w in app.warning]
    assert app.slider(key=key).value == before

    app.radio(key=f"{key}.bound").set_value("point").run()
    app.button(key=f"{key}.solve_target").click().run()
    shown = app.slider(key=key).value
    assert shown == by_point.threshold == round(shown, 3)
    assert int(_metric(app, "Accepted")) == curve.at(shown).accepted
    confirm = app.button(key=f"autohelper.{run_id}.confirm")
    assert confirm.label == f"Confirm threshold {shown:.3f}"

    confirm.click().run()
    assert wait_for_status(run_id, {"completed", "failed"}).status == "completed"
    # What the run received and split on is exactly the value on screen, and so are its counts.
    assert gateway.result(run_id)["threshold"] == shown
    store = AutohelperStore.for_run(run_data_store(), str(run_id))
    accepted, manual = store.read("accepted"), store.read("manual")
    assert (accepted.confidence >= shown).all() and (manual.confidence < shown).all()
    assert len(accepted) == curve.at(shown).accepted


def test_a_model_worse_than_the_majority_class_is_warned_and_an_empty_accepted_share_is_a_dash() -> None:
    # Labels mapped the wrong way round: zero-shot reads the tone, so it is wrong on most golden items.
    run_id = gateway.start_run(AUTOHELPER, {"n_tasks": 20, "n_golden": 20, "model_mode": "zero-shot",
                                            "label_map": {"True": "neg", "False": "pos"}})
    wait_for_pending_input(run_id, timeout=240)
    curve, golden = _stored(run_id)
    counts = golden.true_label.value_counts()
    app = _app(run_id)
    app.run()
    assert not app.exception
    assert _metric(app, "Model's golden accuracy") == f"{golden.correct.mean():.1%}"
    assert _metric(app, "Majority-class baseline") == f"{counts.max() / len(golden):.1%}"
    assert any("does not beat always answering" in w.value for w in app.warning)

    key = f"autohelper.{run_id}.threshold"
    app.slider(key=key).set_value(1.0).run()
    assert curve.at(1.0).labelled_accepted == 0
    accuracy = next(m for m in app.metric if m.label == "Golden accuracy")
    assert accuracy.value == "—" and "no golden item accepted" in accuracy.help
    assert not any("nan" in f"{m.value} {m.help}" for m in app.metric)
    assert any("rests on 0 golden items" in w.value for w in app.warning)
    gateway.resume(run_id, {"threshold": 1.0})
    wait_for_status(run_id, {"completed", "failed"})


def test_the_precision_and_device_picked_are_sent_and_a_gpu_this_machine_lacks_stops_the_run_at_once() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    app = _app()
    app.run()
    app.selectbox(key="autohelper.compute").set_value("bf16 on a CUDA GPU").run()
    app.button(key="autohelper.start").click().run()
    run_id = app.session_state["autohelper.run_id"]
    parameters = gateway.run(run_id).parameters
    assert (parameters["model"], parameters["precision"], parameters["device"]) == ("minilm-offline", "bf16", "cuda")
    failed = wait_for_status(run_id, {"completed", "failed", "paused"}, timeout=120)
    assert failed.status == "failed" and "sees no CUDA GPU" in failed.message
    assert AutohelperStore.for_run(run_data_store(), str(run_id)).read("predictions") is None  # refused before work
