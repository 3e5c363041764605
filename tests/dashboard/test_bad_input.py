"""Bad input through the pages (AppTest): each gets a clear message, the run stays paused (or never starts), no
partial file is left in the data folder, and nothing already stored changes.

Uploads and dataset locations go through the autohelper's dataset form; pause forms through the pages that draw
them, on a real backend. The same inputs resumed through Prefect's own API are in tests/pipelines/test_bad_input.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.test_autohelper_dataset import _plain, _upload, data_dir, form  # noqa: F401 (fixtures)
from tests.review_files import skewed_reviews, write_reviews

pytestmark = pytest.mark.bad_input

HUGE = 50 * 1024 * 1024


def _tsv(frame: pd.DataFrame) -> bytes:
    """Reviews as the UCI files write them (`sentence<TAB>score` under a header)."""
    lines = ["\t".join(frame.columns), *("\t".join(map(str, row)) for row in frame.itertuples(index=False))]
    return ("\n".join(lines) + "\n").encode()


def _reviews(**columns: object) -> bytes:
    return _tsv(skewed_reviews(300).assign(**columns))


def _folder(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden and partial ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def stored(form: AppTest, data_dir: Path) -> dict[str, bytes]:  # noqa: F811 (the fixtures imported above)
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
def test_a_bad_upload_is_refused_with_a_clear_message_and_leaves_no_file(form: AppTest, data_dir: Path,  # noqa: F811
                                                                           stored: dict[str, bytes], case: str) -> None:
    content, message = REFUSED_UPLOADS[case]
    _upload(form, f"{case}.tsv", content())
    assert message in _said(form) and form.error, _said(form)
    assert form.session_state["parameters"] is None  # the start button stays off: no run starts
    assert _folder(data_dir) == stored  # no new, partial or changed file


@pytest.mark.parametrize(("location", "message"), [
    ("http://127.0.0.1:9/reviews.csv", "Could not download http://127.0.0.1:9/reviews.csv"),
    ("/nowhere/reviews.csv", "No file at /nowhere/reviews.csv."),
])
def test_an_unreachable_dataset_location_is_named_and_offers_no_run(form: AppTest, data_dir: Path,  # noqa: F811
                                                                     stored: dict[str, bytes], location: str,
                                                                     message: str) -> None:
    form.radio(key="autohelper.source").set_value("Path or URL").run()
    form.text_input(key="autohelper.location").set_value(location).run()
    assert not form.exception and message in _said(form), _said(form)
    assert form.session_state["parameters"] is None
    assert _folder(data_dir) == stored


def test_a_one_megabyte_review_is_kept_whole_and_the_upload_saved_once(form: AppTest, data_dir: Path,  # noqa: F811
                                                                        stored: dict[str, bytes]) -> None:
    reviews = skewed_reviews(300)
    long_review = "A long review, " + "word " * 200_000
    content = _tsv(pd.concat([reviews, pd.DataFrame({"sentence": [long_review], "score": [0]})]))
    _upload(form, "long.tsv", content)
    assert not form.error, _said(form)
    parameters = form.session_state["parameters"]
    saved = Path(parameters["dataset"])
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


def test_a_50_mb_file_of_reviews_is_read_whole_and_saved_once(form: AppTest, data_dir: Path,  # noqa: F811
                                                               stored: dict[str, bytes], tmp_path: Path) -> None:
    line = "A plain review of a product that works as described, number {}\t{}\n"
    count = HUGE // len(line.format(0, 0)) + 1
    path = tmp_path / "huge.tsv"
    with path.open("w") as out:
        out.write("sentence\tscore\n")
        out.writelines(line.format(n, n % 2) for n in range(count))
    content = path.read_bytes()
    assert len(content) > HUGE
    _upload(form, "huge.tsv", content)
    assert not form.error, _said(form)
    caption = _plain(next(c.value for c in form.caption if "golden items" in c.value))
    golden = max(100, -(-count * 10 // 100))
    assert caption.startswith(f"{count - golden} tasks and {golden} golden items; dropped 0 empty and 0 duplicate")
    saved = Path(form.session_state["parameters"]["dataset"])
    assert _folder(data_dir).keys() == {*stored, str(saved.relative_to(data_dir))}
    assert saved.stat().st_size == len(content)


def test_a_full_disk_while_saving_an_upload_leaves_no_partial_file(form: AppTest, data_dir: Path,  # noqa: F811
                                                                  stored: dict[str, bytes],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = Path.write_bytes

    def write_half_then_fail(path: Path, data: bytes) -> int:
        real_write(path, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", write_half_then_fail)
    _upload(form, "reviews.tsv", _tsv(skewed_reviews(300)))
    assert "Could not save the upload in the data folder (No space left on device); nothing was saved" in _said(form)
    assert form.session_state["parameters"] is None
    assert _folder(data_dir) == stored
