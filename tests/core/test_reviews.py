"""Review datasets: reading real files, proposing the label mapping, cleaning, splits that keep the data's class
shares, and every bad input named clearly."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.core.review_files import load_reviews
from pipelines.core.review_sample import sample_reviews
from pipelines.core.reviews import (
    SEED_PRESET,
    DatasetLocationRefused,
    DatasetProblem,
    check_dataset_location,
    default_golden_size,
    format_label_map,
    parse_label_map,
    prepare_dataset,
    propose_label_map,
    suggest_columns,
)
from tests.conftest import SHARED_DATA
from tests.review_files import skewed_reviews

SHARED_REVIEWS = SHARED_DATA / "reviews"


def _frame(texts: list, labels: list) -> pd.DataFrame:
    return pd.DataFrame({"reviews.text": texts, "reviews.doRecommend": labels})


def test_sample_splits_by_default_into_golden_max_100_or_10_percent_and_every_other_row_as_tasks() -> None:
    prepared = prepare_dataset(sample_reviews())
    assert (len(prepared.tasks), len(prepared.golden)) == (220, 100)
    assert prepared.golden.label.value_counts().to_dict() == {"pos": 50, "neg": 50}
    assert prepared.tasks.label.value_counts().to_dict() == {"pos": 110, "neg": 110}
    assert not set(prepared.tasks.item_id) & set(prepared.golden.item_id)
    assert prepared.warnings == []
    again = prepare_dataset(sample_reviews())
    pd.testing.assert_frame_equal(prepared.tasks, again.tasks)
    assert not prepared.tasks.equals(prepare_dataset(sample_reviews(), seed=1).tasks)


def test_the_seed_preset_keeps_200_tasks_20_balanced_golden_and_warns_about_thin_evidence() -> None:
    prepared = prepare_dataset(sample_reviews(), **SEED_PRESET)
    assert (len(prepared.tasks), len(prepared.golden)) == (200, 20)
    assert prepared.golden.label.value_counts().to_dict() == {"pos": 10, "neg": 10}
    assert prepared.tasks.label.value_counts().to_dict() == {"pos": 100, "neg": 100}
    assert prepared.warnings == ["Only 20 golden items: under the recommended max(100, 10% of rows) = 100; "
                                 "thresholds will rest on thin evidence."]


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
     (_frame(["a", "b", "c"], [True, False, True]), {"n_tasks": 5, "n_golden": 2}, "Only 3 usable reviews"),
     (_frame(["a", "b", "c"], [True, False, True]), {"n_tasks": 1, "n_golden": 1}, "ask for 2 at least"),
     (_frame(["a", "b", "c"], [True, False, True]), {"golden_draw": "even"}, "should be one of stratified, balanced"),
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


def test_label_mapping_is_configurable_and_checked() -> None:
    mapping = parse_label_map("5=pos, 1=neg")
    frame = pd.DataFrame({"body": ["a", "b", "c", "d", "e"], "stars": [5, 1, 5, 1, 3]})
    prepared = prepare_dataset(frame, "body", "stars", mapping, n_tasks=3, n_golden=2)
    assert prepared.report["unlabelled"] == 1  # the 3-star review maps to no label
    assert "The mapping gives no label to the value(s) 3" in prepared.warnings[-1]
    with pytest.raises(DatasetProblem, match="should look like"):
        parse_label_map("5pos")
    with pytest.raises(DatasetProblem, match="at least two labels"):
        parse_label_map("5=pos, 4=pos")


@pytest.mark.skipif(not SHARED_REVIEWS.exists(), reason="../shared is absent")
@pytest.mark.parametrize("name", ["yelp_labelled.txt", "imdb_labelled.txt"])
def test_the_shared_review_files_load_and_split_with_the_proposed_mapping(name: str) -> None:
    frame = load_reviews(SHARED_REVIEWS / name)
    lines = (SHARED_REVIEWS / name).read_text(encoding="utf-8").rstrip("\n").split("\n")  # only LF ends a line
    assert list(frame.columns) == ["sentence", "score"] and len(frame) == len(lines) - 1
    assert list(frame.sentence) == [line.split("\t")[0] for line in lines[1:]]  # stray quotes kept, no row merged
    assert format_label_map(propose_label_map(frame.score)) == "1=pos, 0=neg"
    prepared = prepare_dataset(frame, "sentence", "score")
    assert len(prepared.golden) == 100 and len(prepared.tasks) == prepared.report["rows"] - 100 - \
        prepared.report["duplicates"]
    assert prepared.golden.label.value_counts().to_dict() == {"pos": 50, "neg": 50}


@pytest.mark.parametrize(
    ("values", "proposal"),
    [([0, 1, 1], "1=pos, 0=neg"),
     ([1.0, None, 0.0], "1=pos, 0=neg"),  # a 0/1 column with gaps is read as floats
     ([True, False], "True=pos, False=neg"),
     (["TRUE", "false", "True"], "TRUE=pos, false=neg"),
     (["yes", "no"], "yes=pos, no=neg"),
     (["Positive", "Negative "], "Positive=pos, Negative=neg"),
     (["pos", "neg", "neutral"], "pos=pos, neg=neg, neutral=neutral"),
     (["Great", "Awful"], "Awful=awful, Great=great"),
     ([1, 2, 3, 4, 5], "1=1, 2=2, 3=3, 4=4, 5=5")],  # stars: which are positive is the analyst's call
)
def test_the_label_mapping_is_proposed_from_the_values_seen(values: list, proposal: str) -> None:
    written = format_label_map(propose_label_map(pd.Series(values, name="label")))
    assert written == proposal
    if len(set(parse_label_map(written).values())) >= 2:
        assert format_label_map(parse_label_map(written)) == written


def test_a_column_of_free_text_gets_no_proposal() -> None:
    with pytest.raises(DatasetProblem, match="30 distinct values, more than a label column"):
        propose_label_map(pd.Series([f"review {i}" for i in range(30)], name="body"))


def test_a_0_1_column_without_a_mapping_finds_both_classes() -> None:
    frame = skewed_reviews(300)
    prepared = prepare_dataset(frame, "sentence", "score")
    truth = dict(zip(frame.sentence.str.strip(), frame.score.map({1: "pos", 0: "neg"}), strict=True))
    for part in (prepared.golden, prepared.tasks):
        assert (part.label == part.text.map(truth)).all()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [({"True": "pos", "False": "neg"}, r"With the mapping `True=pos, False=neg`, column 'score' gives no label at "
                                       r"all; .*\(values seen: 1, 0\)"),
     ({"1": "pos", "2": "neg"}, r"With the mapping `1=pos, 2=neg`, column 'score' gives a single class \('pos'\); "
                                r".*\(values seen: 1, 0\)")],
)
def test_label_errors_name_the_values_seen_and_the_mapping_applied(mapping: dict, message: str) -> None:
    with pytest.raises(DatasetProblem, match=message):
        prepare_dataset(skewed_reviews(100), "sentence", "score", mapping)


def _negative_share(frame: pd.DataFrame) -> float:
    return float((frame.label == "neg").mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_skewed_data_keeps_its_class_shares_in_golden_and_tasks(seed: int) -> None:
    prepared = prepare_dataset(skewed_reviews(1000, negative_share=0.1), "sentence", "score", seed=seed)
    assert len(prepared.golden) == 100 and len(prepared.tasks) == 900
    assert abs(_negative_share(prepared.golden) - 0.1) <= 0.02
    assert abs(_negative_share(prepared.tasks) - 0.1) <= 0.02
    fewer_tasks = prepare_dataset(skewed_reviews(1000, negative_share=0.1), "sentence", "score", n_tasks=200,
                                  seed=seed)
    assert abs(_negative_share(fewer_tasks.tasks) - 0.1) <= 0.02


@pytest.mark.parametrize("n_tasks", [None, 200])
def test_the_balanced_option_balances_golden_while_tasks_keep_negatives(n_tasks: int | None) -> None:
    prepared = prepare_dataset(skewed_reviews(1000, negative_share=0.1), "sentence", "score", n_tasks=n_tasks,
                               golden_draw="balanced")
    assert prepared.golden.label.value_counts().to_dict() == {"pos": 50, "neg": 50}
    assert 0.04 <= _negative_share(prepared.tasks) <= 0.1  # the 50 negatives golden did not take, in their share


def test_the_seed_preset_on_skewed_data_no_longer_leaves_tasks_without_negatives() -> None:
    frame = skewed_reviews(300, negative_share=0.05)  # 15 negatives
    prepared = prepare_dataset(frame, "sentence", "score", **{**SEED_PRESET, "n_golden": 40})
    assert prepared.golden.label.value_counts()["neg"] == 14  # every negative but the one kept for the tasks
    assert (prepared.tasks.label == "neg").sum() == 1


def test_a_rare_class_keeps_a_task_and_gets_two_golden_items_when_it_can() -> None:
    frame = pd.DataFrame({"body": [f"review {i}" for i in range(60)],
                          "stance": ["pos"] * 40 + ["neg"] * 17 + ["neutral"] * 3})
    prepared = prepare_dataset(frame, "body", "stance", n_golden=10, n_tasks=20)
    assert prepared.golden.label.value_counts().to_dict() == {"pos": 6, "neg": 2, "neutral": 2}
    assert set(prepared.tasks.label) == {"pos", "neg", "neutral"}
    assert "Class 'neutral' has 2 golden items (under 5)" in " ".join(prepared.warnings)
    with pytest.raises(DatasetProblem, match="2 tasks cannot hold one review of each of the 3 classes"):
        prepare_dataset(frame, "body", "stance", n_golden=10, n_tasks=2)
    with pytest.raises(DatasetProblem, match=r"Only 57 labelled reviews can be golden \(one of each class stays"):
        prepare_dataset(frame, "body", "stance", n_golden=58, n_tasks=2)


@pytest.mark.parametrize(("rows", "golden"), [(50, 49), (320, 100), (1000, 100), (1001, 101), (2500, 250)])
def test_the_default_golden_size_is_max_100_or_10_percent_leaving_a_task(rows: int, golden: int) -> None:
    assert default_golden_size(rows) == golden


def test_fewer_golden_items_than_recommended_warn_and_the_recommended_count_does_not() -> None:
    frame = skewed_reviews(1500, negative_share=0.2)
    assert prepare_dataset(frame, "sentence", "score", n_golden=150).warnings == []
    [warning] = prepare_dataset(frame, "sentence", "score", n_golden=149).warnings
    assert warning.startswith("Only 149 golden items: under the recommended max(100, 10% of rows) = 150")


def test_columns_are_suggested_by_their_contents_when_the_seed_names_are_absent() -> None:
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "title": ["Good", "Bad", "Meh", "Fine"],
                          "body": ["Loved it, would buy again.", "Broke in a week.", "It is fine.", "Works well."],
                          "stars": [5, 1, 3, 4], "liked": [True, False, False, True], "shop": ["a", "a", "a", "a"]})
    assert suggest_columns(frame) == ("body", "liked")
    assert suggest_columns(sample_reviews(10)) == ("reviews.text", "reviews.doRecommend")
    assert suggest_columns(pd.DataFrame({"review": ["a", "b"]})) == ("review", "review")


def test_dataset_paths_that_climb_out_or_lie_outside_the_allowed_folders_are_refused(tmp_path) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir(), outside.mkdir()
    (outside / "r.csv").write_text("sentence,label\nfine,1\n")
    (allowed / "link.csv").symlink_to(outside / "r.csv")
    with pytest.raises(DatasetLocationRefused, match=r"contains '\.\.'"):
        check_dataset_location(f"{allowed}/../outside/r.csv", None)  # refused even when any path is allowed
    for path in (outside / "r.csv", allowed / "link.csv"):
        with pytest.raises(DatasetLocationRefused, match="outside the folders datasets may be read from"):
            check_dataset_location(str(path), [allowed])
    check_dataset_location(str(allowed / "r.csv"), [allowed])
    check_dataset_location("https://example.invalid/../r.csv", [allowed])  # a URL is fetched, not opened
