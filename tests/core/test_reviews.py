"""Review datasets: loading, cleaning, the seeded balanced split, and every bad input named clearly."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.core.reviews import (
    DatasetProblem,
    DatasetUnavailable,
    load_reviews,
    prepare_dataset,
    sample_reviews,
)
from tests.conftest import SHARED_DATA


def _frame(texts: list, labels: list) -> pd.DataFrame:
    return pd.DataFrame({"reviews.text": texts, "reviews.doRecommend": labels})


def test_sample_splits_200_20_balanced_and_seeded() -> None:
    prepared = prepare_dataset(sample_reviews())
    assert (len(prepared.tasks), len(prepared.golden)) == (200, 20)
    assert prepared.golden.label.value_counts().to_dict() == {"pos": 10, "neg": 10}
    assert prepared.tasks.label.value_counts().to_dict() == {"pos": 100, "neg": 100}
    assert not set(prepared.tasks.item_id) & set(prepared.golden.item_id)
    again = prepare_dataset(sample_reviews())
    pd.testing.assert_frame_equal(prepared.tasks, again.tasks)
    assert not prepared.tasks.equals(prepare_dataset(sample_reviews(), seed=1).tasks)


def test_empty_and_duplicate_texts_are_dropped_and_counted() -> None:
    frame = _frame(["good", "good", "", None, "bad", "fine", "awful"], [True, True, False, True, False, True, False])
    prepared = prepare_dataset(frame, n_tasks=2, n_golden=2)
    assert prepared.report == {"rows": 7, "empty_texts": 2, "duplicates": 1, "unlabelled": 0}


def test_missing_columns_name_the_ones_that_exist() -> None:
    with pytest.raises(DatasetProblem, match=r"'reviews.text' not found. The file has: text, stars"):
        prepare_dataset(pd.DataFrame({"text": ["a"], "stars": [5], "reviews.doRecommend": [True]}))


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [(_frame(["", " "], [True, False]), {}, "Nothing is left"),
     (_frame(["a", "b", "c"], [True, False, True]), {"n_tasks": 5, "n_golden": 1}, "Only 3 usable reviews"),
     (_frame(["a", "b", "c", "d"], [True, True, True, True]), {"n_tasks": 2, "n_golden": 2}, "single class"),
     (_frame([1.5, 2.5, 3.5], [True, False, True]), {"n_tasks": 1, "n_golden": 2}, "non-text values")],
)
def test_bad_datasets_are_refused_with_a_reason(frame, kwargs, message) -> None:
    with pytest.raises(DatasetProblem, match=message):
        prepare_dataset(frame, **kwargs)


def test_a_one_megabyte_review_is_kept_whole() -> None:
    huge = "great " * 200_000
    frame = _frame([huge, "bad", "fine", "awful"], [True, False, True, False])
    prepared = prepare_dataset(frame, n_tasks=2, n_golden=2)
    assert huge.strip() in set(prepared.tasks.text) | set(prepared.golden.text)


def test_loading_from_bytes_path_and_unreachable_places(tmp_path) -> None:
    csv = sample_reviews(10).to_csv(index=False).encode()
    assert len(load_reviews(csv)) == 10
    (tmp_path / "r.csv").write_bytes(csv)
    assert len(load_reviews(tmp_path / "r.csv")) == 10
    with pytest.raises(DatasetUnavailable, match="No file at"):
        load_reviews(tmp_path / "missing.csv")
    with pytest.raises(DatasetUnavailable, match="Could not download"):
        load_reviews("http://127.0.0.1:9/reviews.csv")
    with pytest.raises(DatasetUnavailable, match="not a readable CSV"):
        load_reviews(b"")


@pytest.mark.skipif(not (SHARED_DATA / "reviews").exists(), reason="../shared is absent")
def test_shared_yelp_reviews_prepare_with_a_custom_mapping() -> None:
    frame = pd.read_csv(SHARED_DATA / "reviews" / "yelp_labelled.txt", sep="\t")
    text_column, label_column = frame.columns[:2]
    prepared = prepare_dataset(frame, text_column, label_column, {1: "pos", 0: "neg"}, n_tasks=500, n_golden=100)
    assert prepared.golden.label.value_counts().to_dict() == {"pos": 50, "neg": 50}


def test_label_mapping_is_configurable_and_checked() -> None:
    from pipelines.core.reviews import parse_label_map

    mapping = parse_label_map("5=pos, 1=neg")
    frame = pd.DataFrame({"body": ["a", "b", "c", "d", "e"], "stars": [5, 1, 5, 1, 3]})
    prepared = prepare_dataset(frame, "body", "stars", mapping, n_tasks=3, n_golden=2)
    assert prepared.report["unlabelled"] == 1  # the 3-star review maps to no label
    with pytest.raises(DatasetProblem, match="should look like"):
        parse_label_map("5pos")
    with pytest.raises(DatasetProblem, match="at least two labels"):
        parse_label_map("5=pos, 4=pos")
