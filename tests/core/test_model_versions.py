"""Model versions: a saved head predicts exactly as before saving, and its record says where it came from."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.core.autohelper import MiniLMSentimentModel
from pipelines.core.model_versions import (
    UnknownModelVersion,
    is_version_id,
    list_versions,
    load_model,
    load_version,
    predict_with_version,
    save_version,
    training_data,
)
from pipelines.core.review_sample import sample_reviews
from pipelines.core.reviews import prepare_dataset
from pipelines.core.run_data import FolderRunData, RunDataStore

pytestmark = pytest.mark.model  # versions of a MiniLM model fitted here


@pytest.fixture(scope="module")
def skewed() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training items with 10% negatives (as many real review sets are), and unseen items to predict."""
    prepared = prepare_dataset(sample_reviews(), n_tasks=60, n_golden=40, seed=0)
    items = pd.concat([prepared.golden, prepared.tasks], ignore_index=True)
    negatives, positives = items[items.label == "neg"].head(4), items[items.label == "pos"].head(36)
    training = pd.concat([negatives, positives], ignore_index=True)[["item_id", "text", "label"]]
    return training, items[~items.item_id.isin(set(training.item_id))]


@pytest.fixture(scope="module")
def fitted(skewed) -> MiniLMSentimentModel:
    training, _ = skewed
    return MiniLMSentimentModel().fit(list(training.text), list(training.label), list(training.item_id))


def test_a_saved_version_predicts_what_the_model_predicted_before_saving(run_data: RunDataStore, skewed, fitted
                                                                         ) -> None:
    training, unseen = skewed
    before = fitted.predict(list(unseen.text), list(unseen.item_id))
    version = save_version(run_data, fitted, training, golden_accuracy=0.9, autohelper_run_id="run-1",
                           parent="minilm-offline:few-shot(40 labelled)")
    loaded = load_model(load_version(run_data, version.version_id), base=fitted)
    after = loaded.predict(list(unseen.text), list(unseen.item_id))

    assert [p.label for p in after] == [p.label for p in before]
    assert np.allclose([p.confidence for p in after], [p.confidence for p in before])
    assert {p.model_version for p in after} == {version.version_id}
    # Both classes' probabilities, so the scarce class's scores (which rank the unsure items) survive too.
    assert np.allclose(loaded.probabilities(list(unseen.text)), fitted.probabilities(list(unseen.text)))
    assert loaded.labels_ == fitted.labels_ == ["neg", "pos"]
    assert fitted.version.startswith("minilm-offline:")  # the lender's own name is left alone


def test_a_version_records_what_it_learnt_from_and_where_it_came_from(tmp_path, skewed, fitted) -> None:
    training, _ = skewed
    run_data = FolderRunData(tmp_path)
    version = save_version(run_data, fitted, training, golden_accuracy=0.875, autohelper_run_id="run-1",
                           parent="minilm-offline:few-shot(40 labelled)", name="round two")
    again = load_version(run_data, version.version_id)
    assert again == version
    folder = tmp_path / "models" / version.version_id  # laptop mode: the files where they always were
    assert is_version_id(version.version_id) and sorted(path.name for path in folder.iterdir()) == [
        "calibration.parquet", "head.npz", "training.parquet", "version.json"]
    assert (again.name, again.autohelper_run_id, again.parent, again.golden_accuracy, again.n_trained) == (
        "round two", "run-1", "minilm-offline:few-shot(40 labelled)", 0.875, 40)
    pd.testing.assert_frame_equal(training_data(again), training.astype(str))
    assert json.loads((folder / "version.json").read_text())["version_id"] == version.version_id


def test_items_a_version_learnt_from_get_its_out_of_fold_prediction(tmp_path, skewed, fitted) -> None:
    training, unseen = skewed
    version = save_version(FolderRunData(tmp_path), fitted, training, golden_accuracy=0.9, autohelper_run_id=None,
                           parent=None)
    items = pd.concat([training.head(5), unseen.head(5)])
    predicted = predict_with_version(version, list(items.text), list(items.item_id), load_model(version, fitted))
    out_of_fold = {p.item_id: p for p in fitted.calibration_predictions()}
    head = {p.item_id: p for p in fitted.predict(list(unseen.head(5).text), list(unseen.head(5).item_id))}
    for prediction in predicted:
        expected = out_of_fold.get(prediction.item_id) or head[prediction.item_id]
        assert (prediction.label, prediction.confidence) == pytest.approx((expected.label, expected.confidence))
        assert prediction.model_version == version.version_id


def test_versions_list_newest_first_and_skip_half_written_ones(run_data: RunDataStore, skewed, fitted) -> None:
    training, _ = skewed
    first = save_version(run_data, fitted, training, golden_accuracy=0.8, autohelper_run_id="a", parent=None)
    second = save_version(run_data, fitted, training, golden_accuracy=0.9, autohelper_run_id="b",
                          parent=first.version_id)
    run_data.put("models/minilm-offline-v20990101-000000-abcdef/head.npz", b"its version.json is not written yet")
    assert [v.version_id for v in list_versions(run_data)] == [second.version_id, first.version_id]
    assert "golden 90.0%" in second.describe() and "from run b" in second.describe()


def test_an_unknown_version_is_refused_with_the_ones_that_exist(tmp_path, skewed, fitted) -> None:
    run_data = FolderRunData(tmp_path)
    with pytest.raises(UnknownModelVersion, match="No version is saved yet"):
        load_version(run_data, "minilm-offline-v20260101-000000-abcdef")
    version = save_version(run_data, fitted, skewed[0], golden_accuracy=0.9, autohelper_run_id=None, parent=None)
    with pytest.raises(UnknownModelVersion, match=version.version_id):
        load_version(run_data, "../etc")
    with pytest.raises(ValueError, match="fitted model"):
        save_version(run_data, MiniLMSentimentModel(), skewed[0], golden_accuracy=0.5, autohelper_run_id=None,
                     parent=None)
