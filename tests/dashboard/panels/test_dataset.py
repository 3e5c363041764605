"""The autohelper's dataset form (AppTest): real files load, the label mapping is proposed from the data, and what
the form shows (counts, class shares, warnings) is exactly what the flow will prepare from its parameters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.core.review_files import load_reviews
from pipelines.core.reviews import prepare_dataset
from pipelines.core.run_data import is_upload, load_upload, run_data_store
from pipelines.core.settings import get_settings
from tests.dashboard.conftest import _plain, _upload
from tests.review_files import skewed_reviews, write_reviews


def _caption(app: AppTest) -> str:
    return next(_plain(c.value) for c in app.caption if "golden items" in c.value)


def _said(elements) -> list[str]:
    return [_plain(element.value) for element in elements]


def _source(dataset: str) -> str | bytes:
    """A dataset parameter as the flow reads it: an upload's bytes from the run data, else the path itself."""
    return load_upload(run_data_store(), dataset) if is_upload(dataset) else dataset


def _shown_split(parameters: dict) -> str:
    """What the form should say for these parameters, computed the way the flow prepares the data."""
    frame = load_reviews(_source(parameters["dataset"]), delimiter=parameters["delimiter"],
                         header=parameters["header"])
    prepared = prepare_dataset(frame, parameters["text_column"], parameters["label_column"], parameters["label_map"],
                               n_tasks=parameters["n_tasks"], n_golden=parameters["n_golden"],
                               golden_draw=parameters["golden_draw"])

    def shares(labels: pd.Series) -> str:
        counts = labels.value_counts(normalize=True).sort_index().sort_values(ascending=False, kind="stable")
        return ", ".join(f"{label} {share:.0%}" for label, share in counts.items())  # largest first, ties by name

    return (f"{len(prepared.tasks)} tasks and {len(prepared.golden)} golden items; dropped "
            f"{prepared.report['empty_texts']} empty and {prepared.report['duplicates']} duplicate "
            f"texts. Golden: {shares(prepared.golden.label)}. Tasks: {shares(prepared.tasks.label)}.")


@pytest.mark.parametrize("name", ["reviews.txt", "reviews.tsv", "reviews.csv"])
def test_a_tab_separated_upload_with_a_header_is_read_and_its_0_1_labels_proposed(form: AppTest, tmp_path: Path,
                                                                                  name: str) -> None:
    content = write_reviews(tmp_path / name, skewed_reviews(300)).read_bytes()
    app = _upload(form, name, content)
    assert not app.error, [e.value for e in app.error]
    assert (app.selectbox(key="autohelper.text_column").value, app.selectbox(key="autohelper.label_column").value) \
        == ("sentence", "score")
    assert app.text_input(key="autohelper.label_map").value == "1=pos, 0=neg"
    parameters = app.session_state["parameters"]
    assert _source(parameters["dataset"]) == content and parameters["dataset"].endswith(name[-4:])
    assert {k: parameters[k] for k in ("delimiter", "header", "label_map", "n_tasks", "n_golden", "golden_draw")} \
        == {"delimiter": None, "header": True, "label_map": {"1": "pos", "0": "neg"}, "n_tasks": None,
            "n_golden": None, "golden_draw": "stratified"}
    assert _caption(app) == _shown_split(parameters)
    assert "200 tasks and 100 golden items" in _caption(app)
    assert "Golden: pos 90%, neg 10%. Tasks: pos 90%, neg 10%." in _caption(app)
    assert not app.warning


def test_a_path_to_a_tsv_without_a_header_reads_numbered_columns(form: AppTest, tmp_path: Path) -> None:
    path = write_reviews(tmp_path / "reviews.tsv", skewed_reviews(300), header=False)
    form.radio(key="autohelper.source").set_value("Path or URL").run()
    form.checkbox(key="autohelper.header").uncheck().run()
    form.text_input(key="autohelper.location").input(str(path)).run()
    assert not form.exception and not form.error, [e.value for e in form.error]
    assert (form.selectbox(key="autohelper.text_column").value, form.selectbox(key="autohelper.label_column").value) \
        == ("column 1", "column 2")
    assert form.text_input(key="autohelper.label_map").value == "1=pos, 0=neg"
    parameters = form.session_state["parameters"]
    assert (parameters["dataset"], parameters["header"]) == (str(path), False)
    assert _caption(form) == _shown_split(parameters)


def test_a_wrong_delimiter_is_named_and_no_parameters_are_offered(form: AppTest, tmp_path: Path) -> None:
    _upload(form, "reviews.txt", write_reviews(tmp_path / "reviews.txt", skewed_reviews(100)).read_bytes())
    form.selectbox(key="autohelper.delimiter").set_value("comma").run()
    assert any("with the comma delimiter (chosen): Error tokenizing data" in e for e in _said(form.error))
    assert form.session_state["parameters"] is None
    form.selectbox(key="autohelper.delimiter").set_value("tab").run()
    assert not form.error and form.session_state["parameters"]["delimiter"] == "tab"


def test_the_mapping_is_reproposed_for_a_new_label_column_and_an_edit_kept_for_the_same(form: AppTest,
                                                                                        tmp_path: Path) -> None:
    reviews = skewed_reviews(300).assign(stance=lambda f: ["pos", "neg", "neutral"] * 100)
    _upload(form, "reviews.txt", write_reviews(tmp_path / "reviews.txt", reviews).read_bytes())
    mapping = form.text_input(key="autohelper.label_map")
    assert mapping.value == "1=pos, 0=neg"
    mapping.input("1=good, 0=bad").run()
    form.radio(key="autohelper.split").set_value("custom").run()  # another widget: the edit stays
    assert form.text_input(key="autohelper.label_map").value == "1=good, 0=bad"
    assert form.session_state["parameters"]["label_map"] == {"1": "good", "0": "bad"}
    assert "Golden: good 90%, bad 10%" in _caption(form)
    form.selectbox(key="autohelper.label_column").set_value("stance").run()
    assert form.text_input(key="autohelper.label_map").value == "pos=pos, neg=neg, neutral=neutral"
    assert set(form.session_state["parameters"]["label_map"].values()) == {"pos", "neg", "neutral"}
    form.selectbox(key="autohelper.label_column").set_value("score").run()
    assert form.text_input(key="autohelper.label_map").value == "1=pos, 0=neg"


def test_a_mapping_that_matches_nothing_names_the_values_seen_and_the_mapping(form: AppTest, tmp_path: Path) -> None:
    _upload(form, "reviews.txt", write_reviews(tmp_path / "reviews.txt", skewed_reviews(100)).read_bytes())
    form.text_input(key="autohelper.label_map").input("True=pos, False=neg").run()
    [error] = _said(form.error)
    assert "With the mapping `True=pos, False=neg`, column 'score' gives no label at all" in error
    assert "values seen: 1, 0" in error
    assert form.session_state["parameters"] is None


def test_split_presets_seed_balanced_and_custom(form: AppTest) -> None:
    assert "220 tasks and 100 golden items" in _caption(form)  # the generated sample, recommended split
    form.radio(key="autohelper.split").set_value("seed").run()
    parameters = form.session_state["parameters"]
    assert (parameters["n_tasks"], parameters["n_golden"], parameters["golden_draw"]) == (200, 20, "balanced")
    assert "200 tasks and 20 golden items" in _caption(form)
    assert _said(form.warning) == ["Only 20 golden items: under the recommended max(100, 10% of rows) = 100; "
                                   "thresholds will rest on thin evidence."]
    form.radio(key="autohelper.split").set_value("custom").run()
    form.number_input(key="autohelper.n_tasks").set_value(150).run()
    form.number_input(key="autohelper.n_golden").set_value(40).run()
    form.radio(key="autohelper.golden_draw").set_value("balanced").run()
    parameters = form.session_state["parameters"]
    assert (parameters["n_tasks"], parameters["n_golden"], parameters["golden_draw"]) == (150, 40, "balanced")
    assert "150 tasks and 40 golden items" in _caption(form)


def test_skewed_data_with_the_balanced_draw_shows_golden_balanced_and_tasks_keeping_negatives(
        form: AppTest, tmp_path: Path) -> None:
    _upload(form, "reviews.txt", write_reviews(tmp_path / "reviews.txt", skewed_reviews(1000)).read_bytes())
    assert "Golden: pos 90%, neg 10%. Tasks: pos 90%, neg 10%." in _caption(form)
    form.radio(key="autohelper.golden_draw").set_value("balanced").run()
    assert "Golden: neg 50%, pos 50%. Tasks: pos 94%, neg 6%." in _caption(form)
    assert _caption(form) == _shown_split(form.session_state["parameters"])


@pytest.mark.usefixtures("backend")
def test_the_run_prepares_exactly_the_split_the_form_showed(tmp_path: Path) -> None:
    from dashboard import gateway
    from pipelines.core.autohelper_store import AutohelperStore
    from tests.conftest import wait_for_pending_input, wait_for_status

    reviews = skewed_reviews(300)
    path = write_reviews(tmp_path / "reviews.tsv", reviews)
    app = AppTest.from_file(str(Path(__file__).resolve().parents[3] / "dashboard" / "app.py"), default_timeout=90)
    app.switch_page("views/autohelper.py")
    app.run()
    app.radio(key="autohelper.source").set_value("Path or URL").run()
    app.text_input(key="autohelper.location").input(str(path)).run()
    app.radio(key="autohelper.split").set_value("custom").run()
    app.number_input(key="autohelper.n_tasks").set_value(150).run()
    app.number_input(key="autohelper.n_golden").set_value(40).run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    caption, warnings = _caption(app), _said(app.warning)
    assert caption.startswith("150 tasks and 40 golden items") and "Golden: pos 90%, neg 10%" in caption
    assert warnings == ["Only 40 golden items: under the recommended max(100, 10% of rows) = 100; thresholds will "
                        "rest on thin evidence.",
                        "Class 'neg' has 4 golden items (under 5): the model's accuracy on it is barely measured."]

    app.button(key="autohelper.start").click().run()
    run_id = app.session_state["autohelper.run_id"]
    assert {key: gateway.run(run_id).parameters.get(key) for key in (
        "dataset", "delimiter", "header", "text_column", "label_column", "label_map", "n_tasks", "n_golden",
        "golden_draw")} == {"dataset": str(path), "delimiter": None, "header": True, "text_column": "sentence",
                            "label_column": "score", "label_map": {"1": "pos", "0": "neg"}, "n_tasks": 150,
                            "n_golden": 40, "golden_draw": "stratified"}
    pending = wait_for_pending_input(run_id, timeout=240)
    store = AutohelperStore.for_run(run_data_store(), str(run_id))
    golden, tasks = store.read("golden"), store.read("tasks")
    counts = {"golden": golden.label.value_counts().to_dict(), "tasks": tasks.label.value_counts().to_dict()}
    assert counts == {"golden": {"pos": 36, "neg": 4}, "tasks": {"pos": 135, "neg": 15}}  # what the caption said
    truth = dict(zip(reviews.sentence.str.strip(), reviews.score.map({1: "pos", 0: "neg"}), strict=True))
    assert (golden.label == golden.text.map(truth)).all() and (tasks.label == tasks.text.map(truth)).all()
    assert all(warning in _plain(pending.description) for warning in warnings)
    gateway.resume(run_id, {"threshold": 0.9})
    assert wait_for_status(run_id, {"completed", "failed"}).status == "completed"


def test_an_upload_named_to_climb_out_lands_in_the_uploads_folder(form: AppTest, data_dir: Path, tmp_path: Path
                                                                  ) -> None:
    _upload(form, "../../escaped.csv", write_reviews(tmp_path / "r.csv", skewed_reviews(100)).read_bytes())
    assert not form.error, [e.value for e in form.error]
    reference = form.session_state["parameters"]["dataset"]  # what the flow gets: a name in the run data
    assert re.fullmatch(r"upload:[0-9a-f]{16}\.csv", reference)
    assert (data_dir / "uploads" / reference.removeprefix("upload:")).is_file()  # laptop mode: the uploads folder
    assert [path.name for path in tmp_path.rglob("escaped*")] == []


def test_a_path_outside_the_dataset_folders_is_refused_on_the_page(form: AppTest, data_dir: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_reviews(tmp_path / "elsewhere.csv", skewed_reviews(100))
    monkeypatch.setenv("HITL_DATASET_FOLDERS", json.dumps([str(tmp_path / "allowed")]))
    get_settings.cache_clear()
    form.radio(key="autohelper.source").set_value("Path or URL").run()
    form.text_input(key="autohelper.location").input(str(path)).run()
    assert not form.exception
    assert any("outside the folders datasets may be read from" in e.value for e in form.error)
    assert form.session_state["parameters"] is None  # nothing to start a run with
    form.text_input(key="autohelper.location").input(f"{tmp_path}/allowed/../elsewhere.csv").run()
    assert any("contains" in e.value and "give the file" in e.value for e in form.error)
