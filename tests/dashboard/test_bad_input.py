"""Bad input through the pages (AppTest): each gets a clear message, the run stays paused (or never starts), no
partial file is left in the data folder, and nothing already stored changes.

Uploads and dataset locations go through the autohelper's dataset form; pause forms through the pages that draw
them, on a real backend. The same inputs resumed through Prefect's own API are in tests/pipelines/test_bad_input.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import _plain, _upload
from tests.review_files import skewed_reviews

pytestmark = pytest.mark.bad_input

HUGE = 50 * 1024 * 1024


def _tsv(frame: pd.DataFrame) -> bytes:
    """Reviews as the UCI files write them (`sentence<TAB>score` under a header)."""
    lines = ["\t".join(frame.columns), *("\t".join(map(str, row)) for row in frame.itertuples(index=False))]
    return ("\n".join(lines) + "\n").encode()


def _reviews(**columns: object) -> bytes:
    return _tsv(skewed_reviews(300).assign(**columns))


def _stored_upload(data_dir: Path, dataset: str) -> Path:
    """Where laptop mode keeps the upload a flow's `dataset` (`upload:<name>`) names: the data folder's uploads."""
    assert dataset.startswith("upload:"), dataset
    return data_dir / "uploads" / dataset.removeprefix("upload:")


def _folder(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden and partial ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def stored(form: AppTest, data_dir: Path) -> dict[str, bytes]:
    """A good upload accepted first, so each case can show that what is already stored stays as it was."""
    _upload(form, "good.tsv", _tsv(skewed_reviews(200)))
    assert form.session_state["parameters"] is not None
    return _folder(data_dir)


def _said(app: AppTest) -> str:
    """Every error and warning on the page, as shown (dataset values in messages are escaped Markdown)."""
    return "\n".join(_plain(element.value) for element in [*app.error, *app.warning])


REFUSED_UPLOADS: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty": (lambda: b"", "could not be read with the comma delimiter (detected): No columns to parse from file"),
    "header only": (lambda: b"sentence\tscore\n", "Column 'score' holds no values to use as labels"),
    "garbled": (lambda: b'sentence\tscore\n"unterminated\t1\nfoo\t\t\t\t\t0\n\x00\x00\x00\n',
                "cannot be both the text and the label column: the file has no other column. Check the delimiter"),
    "binary": (lambda: bytes(range(256)) * 64, "The upload is not UTF-8 text (invalid start byte at byte 128); "
                                               "save it as UTF-8."),
    "latin-1": (lambda: "sentence\tscore\nTrès bon café\t1\nMauvais\t0\n".encode("latin-1"),
                "The upload is not UTF-8 text (invalid continuation byte at byte 17); save it as UTF-8."),
    "utf-16": (lambda: "sentence\tscore\nGood\t1\nBad\t0\n".encode("utf-16"),
               "The upload is not UTF-8 text (invalid start byte at byte 0); save it as UTF-8."),
    "one column": (lambda: "\n".join(["sentence", *skewed_reviews(300).sentence]).encode(),
                   "Column 'sentence' cannot be both the text and the label column: the file has no other column."),
    "one label value": (lambda: _reviews(score=1), "Column 'score' holds one value only (1): reviews of one label"),
    "twenty-one label values": (lambda: _reviews(score=[n % 21 for n in range(300)]),
                                "Column 'score' holds 21 distinct values, more than a label column usually has"),
    "missing texts": (lambda: _reviews(sentence=""), "Nothing is left after dropping empty texts and duplicates."),
    "missing labels": (lambda: _reviews(score=""), "Column 'score' holds no values to use as labels"),
    "too few for golden": (lambda: b"sentence\tscore\ngood\tpos\nbad\tneg\nmeh\tneutral\n",
                           "Only 0 labelled review(s) can be golden (one of each class stays among the tasks); the "
                           "model needs 2 golden items at least"),
    "50 MB binary": (lambda: os.urandom(HUGE), "The upload is not UTF-8 text"),
    "50 MB on one line": (lambda: b"a" * HUGE, "The upload's first row has a field of 52,428,800 characters, too long "
                                               "for a column name: untick 'First row is a header'"),
}


@pytest.mark.parametrize("case", list(REFUSED_UPLOADS))
def test_a_bad_upload_is_refused_with_a_clear_message_and_leaves_no_file(form: AppTest, data_dir: Path,
                                                                           stored: dict[str, bytes], case: str) -> None:
    content, message = REFUSED_UPLOADS[case]
    form.default_timeout = 300  # reading 50 MB takes seconds, more on a busy machine
    _upload(form, f"{case}.tsv", content())
    assert message in _said(form) and form.error, _said(form)
    assert form.session_state["parameters"] is None  # the start button stays off: no run starts
    assert _folder(data_dir) == stored  # no new, partial or changed file


@pytest.mark.parametrize(("location", "message"), [
    ("http://127.0.0.1:9/reviews.csv", "Could not download http://127.0.0.1:9/reviews.csv"),
    ("/nowhere/reviews.csv", "No file at /nowhere/reviews.csv."),
])
def test_an_unreachable_dataset_location_is_named_and_offers_no_run(form: AppTest, data_dir: Path,
                                                                     stored: dict[str, bytes], location: str,
                                                                     message: str) -> None:
    form.radio(key="autohelper.source").set_value("Path or URL").run()
    form.text_input(key="autohelper.location").set_value(location).run()
    assert not form.exception and message in _said(form), _said(form)
    assert form.session_state["parameters"] is None
    assert _folder(data_dir) == stored


def test_a_one_megabyte_review_is_kept_whole_and_the_upload_saved_once(form: AppTest, data_dir: Path,
                                                                        stored: dict[str, bytes]) -> None:
    reviews = skewed_reviews(300)
    long_review = "A long review, " + "word " * 200_000
    content = _tsv(pd.concat([reviews, pd.DataFrame({"sentence": [long_review], "score": [0]})]))
    _upload(form, "long.tsv", content)
    assert not form.error, _said(form)
    parameters = form.session_state["parameters"]
    saved = _stored_upload(data_dir, parameters["dataset"])
    assert saved.read_bytes() == content  # whole, under its final name
    assert _folder(data_dir) == {**stored, str(saved.relative_to(data_dir)): content}  # and nothing else
    caption = _plain(next(c.value for c in form.caption if "golden items" in c.value))
    assert caption.startswith("201 tasks and 100 golden items; dropped 0 empty and 0 duplicate")  # 301 reviews


def test_a_label_column_with_twenty_values_keeps_twenty_classes(form: AppTest, stored: dict[str, bytes]) -> None:
    _upload(form, "twenty.tsv", _reviews(score=[f"grade {n % 20}" for n in range(300)]))
    assert not form.error, _said(form)
    label_map = form.session_state["parameters"]["label_map"]
    assert sorted(label_map) == sorted(f"grade {n}" for n in range(20))
    assert len(set(label_map.values())) == 20  # each value its own class, as the mapping box shows


def test_a_50_mb_file_of_reviews_is_read_whole_and_saved_once(form: AppTest, data_dir: Path,
                                                               stored: dict[str, bytes], tmp_path: Path) -> None:
    line = "A plain review of a product that works as described, number {}\t{}\n"
    count = HUGE // len(line.format(0, 0)) + 1
    path = tmp_path / "huge.tsv"
    with path.open("w") as out:
        out.write("sentence\tscore\n")
        out.writelines(line.format(n, n % 2) for n in range(count))
    content = path.read_bytes()
    assert len(content) > HUGE
    form.default_timeout = 300  # reading 50 MB takes seconds, more on a busy machine
    _upload(form, "huge.tsv", content)
    assert not form.error, _said(form)
    caption = _plain(next(c.value for c in form.caption if "golden items" in c.value))
    golden = max(100, -(-count * 10 // 100))
    assert caption.startswith(f"{count - golden} tasks and {golden} golden items; dropped 0 empty and 0 duplicate")
    saved = _stored_upload(data_dir, form.session_state["parameters"]["dataset"])
    assert _folder(data_dir).keys() == {*stored, str(saved.relative_to(data_dir))}
    assert saved.stat().st_size == len(content)


def test_a_full_disk_while_saving_an_upload_leaves_no_partial_file(form: AppTest, data_dir: Path,
                                                                  stored: dict[str, bytes],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = Path.write_bytes

    def write_half_then_fail(path: Path, data: bytes) -> int:
        real_write(path, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", write_half_then_fail)
    _upload(form, "reviews.tsv", _tsv(skewed_reviews(300)))
    assert "Could not save the upload (No space left on device); nothing was saved" in _said(form)
    assert form.session_state["parameters"] is None
    assert _folder(data_dir) == stored


# Pause forms on their pages, against a real backend.

def _audit(run_id: object) -> list[dict]:
    from dashboard import gateway
    from pipelines.catalog import AUDIT_ARTIFACT_KEY

    return [row for a in gateway.artifacts(run_id) if a.key == AUDIT_ARTIFACT_KEY for row in a.data]  # type: ignore


def _users() -> object:
    from dashboard import gateway
    from pipelines.catalog import CLEANED_USERS_BLOCK_NAME, USERS_BLOCK_NAME

    return gateway.json_block(USERS_BLOCK_NAME), gateway.json_block(CLEANED_USERS_BLOCK_NAME)


@pytest.mark.parametrize(("typed", "message"), [
    ("abc", "Number of users must be a whole number (got 'abc')."),
    ("3 users", "Number of users must be a whole number (got '3 users')."),
    ("-3", "Number of users must be at least 1 (got -3)."),
    ("0", "Number of users must be at least 1 (got 0)."),
    ("20001", "Number of users must be at most 20000 (got 20001)."),
    ("1e9", "Number of users must be at most 20000 (got 1000000000)."),
    ("99999999999999999999", "Number of users must be at most 20000 (got 99999999999999999999)."),
    ("2.5", "Number of users must be a whole number (got 2.5)."),
    ("nan", "Number of users must be a whole number (got 'nan')."),
    ("", "Number of users is required."),
], ids=["text", "number and words", "negative", "zero", "one over", "exponent", "huge", "fraction", "nan", "empty"])
def test_a_bad_user_count_typed_on_the_ingestion_page_is_refused(user_count_pause: UUID, typed: str,
                                                                  message: str) -> None:
    from dashboard import gateway
    from tests.dashboard.apptest import page_app, submit

    pending, stored = gateway.pending_input(user_count_pause), _users()
    app = page_app("views/ingestion.py", "Robin")
    app.session_state["ingestion.run_id"] = user_count_pause
    app.run()
    app.text_input(key=f"ingestion.{user_count_pause}.pause.number_of_users").set_value(typed)
    submit(app)
    assert not app.exception and message in _said(app), _said(app)
    assert gateway.run(user_count_pause).status == "paused" and gateway.pending_input(user_count_pause) == pending
    assert _audit(user_count_pause) == [] and _users() == stored


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Instruction is required."),
    ("ab", "Instruction must have at least 3 characters."),
    ("Count " * 400, "Instruction must have at most 2000 characters."),
    ("x" * 1_000_000, "The answer is 977 KiB; a pause takes at most 256 KiB. Nothing was sent."),
], ids=["empty", "two letters", "too long", "one megabyte"])
def test_a_bad_instruction_typed_in_the_inbox_is_refused(instruction_pause: UUID, typed: str, message: str) -> None:
    from dashboard import gateway
    from tests.dashboard.apptest import page_app, submit

    pending = gateway.pending_input(instruction_pause)
    app = page_app("views/inbox.py", "Robin")
    app.run()
    app.text_input(key=f"inbox.{instruction_pause}.input_instructions").set_value(typed)
    submit(app, form=f"inbox.{instruction_pause}")
    assert not app.exception and message in _said(app), _said(app)
    assert gateway.run(instruction_pause).status == "paused" and gateway.pending_input(instruction_pause) == pending
    assert _audit(instruction_pause) == []


def test_dropping_every_column_on_the_feature_page_is_refused(feature_pause: UUID) -> None:
    from dashboard import gateway
    from tests.dashboard.apptest import page_app

    pending, stored = gateway.pending_input(feature_pause), _users()
    app = page_app("views/features.py", "Robin")
    app.session_state["features.run_id"] = feature_pause
    app.run()
    every = app.multiselect(key=f"features.{feature_pause}.drop").options
    app.multiselect(key=f"features.{feature_pause}.drop").set_value(every).run()
    app.button(key=f"features.{feature_pause}.resume").click().run()
    assert not app.exception and f"Features to drop: choose at most {len(every) - 1} (got {len(every)})." in _said(app)
    assert gateway.run(feature_pause).status == "paused" and gateway.pending_input(feature_pause) == pending
    assert _audit(feature_pause) == [] and _users() == stored


@pytest.mark.parametrize("page", ["views/labelling.py", "views/crowd_results.py"])
def test_a_wrong_answer_store_url_is_named_on_the_page_with_its_password_hidden(
        backend: object, autohelper_split: str, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    from dashboard import gateway
    from pipelines.catalog import CROWD_LOOP
    from pipelines.core.settings import get_settings
    from tests.conftest import wait_for_status
    from tests.dashboard.apptest import page_app

    if page == "views/crowd_results.py":  # the results page opens the store of the crowd loop on screen
        run_id = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": autohelper_split, "crowd": "simulated"})
        wait_for_status(run_id, {"completed"}, timeout=120)
    monkeypatch.setenv("HITL_ANSWER_STORE", "postgresql+psycopg://annotator:hunter2@127.0.0.1:9/answers")
    get_settings.cache_clear()
    try:
        app = page_app(page, "Robin")
        app.run()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert not app.exception, app.exception
    said = _said(app)
    assert ("The answer store at postgresql+psycopg://annotator:***@127.0.0.1:9/answers cannot be opened "
            "(connection") in said and "hunter2" not in said
