"""Reading review files: paths, URLs and uploads; every common delimiter detected or chosen; quoting, headers
and one-column files; each failure named clearly."""

from __future__ import annotations

import pytest

from pipelines.core.review_files import load_reviews
from pipelines.core.review_sample import sample_reviews
from pipelines.core.reviews import DatasetProblem, DatasetUnavailable, prepare_dataset
from tests.review_files import skewed_reviews, write_reviews


def test_loading_from_bytes_path_and_unreachable_places(tmp_path) -> None:
    csv = sample_reviews(10).to_csv(index=False).encode()
    assert len(load_reviews(csv)) == 10
    (tmp_path / "r.csv").write_bytes(csv)
    assert len(load_reviews(tmp_path / "r.csv")) == 10
    with pytest.raises(DatasetUnavailable, match="No file at"):
        load_reviews(tmp_path / "missing.csv")
    with pytest.raises(DatasetUnavailable, match="Could not download"):
        load_reviews("http://127.0.0.1:9/reviews.csv")
    with pytest.raises(DatasetUnavailable, match=r"could not be read with the comma delimiter \(detected\)"):
        load_reviews(b"")
    with pytest.raises(DatasetUnavailable, match="not UTF-8"):
        load_reviews("Très bien\t1\n".encode("latin-1"))


def test_a_tab_separated_file_with_a_header_loads_as_written(tmp_path) -> None:
    reviews = skewed_reviews(300)
    frame = load_reviews(write_reviews(tmp_path / "reviews.txt", reviews))
    assert list(frame.columns) == ["sentence", "score"] and len(frame) == 300
    assert list(frame.sentence) == list(reviews.sentence)  # stray quotes, commas and trailing spaces kept
    assert frame.sentence[0].startswith('" ')
    prepared = prepare_dataset(frame, "sentence", "score")
    assert set(prepared.golden.label) == set(prepared.tasks.label) == {"pos", "neg"}


@pytest.mark.parametrize(("separator", "name"), [(";", "semicolon"), ("|", "pipe"), ("\t", "tab")])
def test_semicolon_pipe_and_tab_are_detected_or_chosen(tmp_path, separator: str, name: str) -> None:
    reviews = skewed_reviews(50)
    path = write_reviews(tmp_path / "reviews.csv", reviews, separator)
    for delimiter in (None, name, separator):
        frame = load_reviews(path, delimiter=delimiter)
        assert list(frame.sentence) == list(reviews.sentence) and list(frame.score) == list(reviews.score)


def test_a_quoted_csv_keeps_commas_and_quotes_inside_texts(tmp_path) -> None:
    reviews = skewed_reviews(80).assign(sentence=lambda f: f.sentence + ' She said "fine, 3/5", then\nleft.')
    path = tmp_path / "reviews.csv"
    reviews.to_csv(path, index=False)
    frame = load_reviews(path)
    assert list(frame.sentence) == list(reviews.sentence)


def test_an_explicit_delimiter_overrides_detection_and_a_wrong_one_is_named(tmp_path) -> None:
    path = write_reviews(tmp_path / "reviews.tsv", skewed_reviews(40))
    with pytest.raises(DatasetUnavailable, match=r"with the comma delimiter \(chosen\): .*Expected \d+ fields"):
        load_reviews(path, delimiter="comma")
    with pytest.raises(DatasetProblem, match="should be one of comma, tab, semicolon, pipe"):
        load_reviews(path, delimiter="colon")


def test_a_file_without_a_header_names_its_columns(tmp_path) -> None:
    reviews = skewed_reviews(60)
    path = write_reviews(tmp_path / "reviews.txt", reviews, header=False)
    frame = load_reviews(path, header=False)
    assert list(frame.columns) == ["column 1", "column 2"]
    assert list(frame["column 1"]) == list(reviews.sentence)
    assert len(load_reviews(path)) == 59  # read with a header, the first review would name a column


def test_a_one_column_file_loads_whole_lines() -> None:
    lines = ["Great, really great", "Bad; sadly", "Fine | I guess", "No", "Yes, yes, yes"]
    frame = load_reviews(("\n".join(["review", *lines]) + "\n").encode())
    assert list(frame.columns) == ["review"] and list(frame.review) == lines
