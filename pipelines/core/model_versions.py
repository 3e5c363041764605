"""Every retrained autohelper model is a version: its head, the data it learnt from, and where it came from.

A version lives in the run-data store under `models/<version id>/` (in laptop mode the folder
`<data dir>/models/<version id>/`): `head.npz` (the logistic-regression head's weights, no
pickle), `training.parquet` (`item_id, text, label` it learnt from), `calibration.parquet` (its out-of-fold
predictions for those items) and `version.json` (name, created-at, golden accuracy, the autohelper run it came from,
its parent). `version.json` is written last (a database writes all four in one transaction), and only versions
with one are listed, so a version is there whole or not at all.
The encoder is the packaged MiniLM, shared by every version, so only the head is saved.
"""

from __future__ import annotations

import io
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.autohelper import OFFLINE_MODEL_NAME, MiniLMSentimentModel, Prediction, Progress
from pipelines.core.run_data import RunDataStore

MODELS_FOLDER = "models"
VERSION_RECORD = "version.json"
VERSION_PREFIX = f"{OFFLINE_MODEL_NAME}-v"
_VERSION_ID = re.compile(rf"^{re.escape(VERSION_PREFIX)}\d{{8}}-\d{{6}}-[0-9a-f]{{6}}$")


class UnknownModelVersion(LookupError):
    """No saved version has this id; the message lists the ones that exist."""


@dataclass(frozen=True)
class ModelVersion:
    """What a saved version is, as `version.json` records it; `run_data` is the store it lies in."""

    version_id: str
    name: str
    created_at: str  # ISO 8601, UTC
    autohelper_run_id: str | None  # the run whose labels it learnt from
    parent: str | None  # the model_version of that run's predictions (a version id, or the base model)
    golden_accuracy: float  # out-of-fold, on every golden item it learnt from
    labels: tuple[str, ...]
    n_trained: int
    run_data: RunDataStore = field(compare=False, repr=False)

    def describe(self) -> str:
        """One line for a picker: name, when, from which run, golden accuracy."""
        run = f"from run {self.autohelper_run_id[:8]}" if self.autohelper_run_id else "from no run"
        return (f"{self.name} · {self.created_at[:16].replace('T', ' ')} UTC · {run} · "
                f"golden {self.golden_accuracy:.1%}")

    def key(self, name: str) -> str:
        """The run-data key of one of the version's files (`head.npz`, `training.parquet`, ...)."""
        return f"{MODELS_FOLDER}/{self.version_id}/{name}"

    def read(self, name: str) -> bytes:
        """One of the version's files.

        Raises:
            UnknownModelVersion: the file is gone from the run data.
        """
        data = self.run_data.get(self.key(name))
        if data is None:
            raise UnknownModelVersion(f"Model version {self.version_id} has no {name} in the run data "
                                      f"({self.run_data.location(self.key(name))}): retrain to save it again.")
        return data


def is_version_id(model: str) -> bool:
    """Whether `model` names a saved version (rather than the base offline model or a Hugging Face id)."""
    return bool(_VERSION_ID.match(model))


def _new_id(now: datetime) -> str:
    return f"{VERSION_PREFIX}{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def save_version(
    run_data: RunDataStore,
    model: MiniLMSentimentModel,
    training: pd.DataFrame,
    *,
    golden_accuracy: float,
    autohelper_run_id: str | None,
    parent: str | None,
    name: str | None = None,
) -> ModelVersion:
    """Save a fitted offline model as a new version and return it.

    Args:
        model: fitted on `training` (its head and out-of-fold predictions are saved).
        training: the items it learnt from, `item_id, text, label`.
        golden_accuracy: its out-of-fold accuracy on the golden items.
        parent: the model_version the predictions it improves on carried.

    Raises:
        ValueError: the model has no trained head (a zero-shot model is not a version).
    """
    if model.head_ is None:
        raise ValueError("Only a fitted model can be saved as a version: call fit on labelled items first.")
    now = datetime.now(UTC)
    version_id = _new_id(now)
    version = ModelVersion(version_id, name or f"retrained on {len(training)} labels", now.isoformat(),
                           autohelper_run_id, parent, float(golden_accuracy), tuple(model.labels_), model.n_trained_,
                           run_data)
    head, buffers = model.head_, {name: io.BytesIO() for name in ("head.npz", "training.parquet",
                                                                 "calibration.parquet")}
    np.savez(buffers["head.npz"], coef=head.coef_, intercept=head.intercept_,
             classes=np.asarray(head.classes_, dtype=str))
    training[["item_id", "text", "label"]].astype(str).to_parquet(buffers["training.parquet"], index=False)
    calibration = pd.DataFrame([p.__dict__ for p in model.calibration_predictions()])
    calibration[["item_id", "label", "confidence"]].to_parquet(buffers["calibration.parquet"], index=False)
    record = {f.name: getattr(version, f.name) for f in fields(version) if f.name != "run_data"}
    # version.json last: a version is listed only once it is there, so never half-written.
    run_data.put_many({**{version.key(name): buffer.getvalue() for name, buffer in buffers.items()},
                       version.key(VERSION_RECORD): json.dumps(record, indent=2).encode()})
    return version


def _read(run_data: RunDataStore, record_bytes: bytes) -> ModelVersion:
    record: dict[str, Any] = json.loads(record_bytes)
    return ModelVersion(**{**record, "labels": tuple(record["labels"]), "run_data": run_data})


def list_versions(run_data: RunDataStore) -> list[ModelVersion]:
    """Every saved version, newest first (half-written ones are never listed)."""
    found = []
    for key in run_data.keys(MODELS_FOLDER):
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == VERSION_RECORD and is_version_id(parts[1]) and (record := run_data.get(key)):
            found.append(_read(run_data, record))
    return sorted(found, key=lambda version: version.created_at, reverse=True)


def load_version(run_data: RunDataStore, version_id: str) -> ModelVersion:
    """The saved version with this id.

    Raises:
        UnknownModelVersion: there is none; the message lists the ids that exist.
    """
    record = run_data.get(f"{MODELS_FOLDER}/{version_id}/{VERSION_RECORD}") if is_version_id(version_id) else None
    if record is None:
        known = [version.version_id for version in list_versions(run_data)]
        raise UnknownModelVersion(
            f"No saved model version {version_id!r} in {run_data.location(MODELS_FOLDER)}. "
            + (f"Saved versions: {', '.join(known)}." if known else "No version is saved yet: retrain a run first."))
    return _read(run_data, record)


def training_data(version: ModelVersion) -> pd.DataFrame:
    """The items the version learnt from: `item_id, text, label`."""
    return pd.read_parquet(io.BytesIO(version.read("training.parquet")))


def load_model(version: ModelVersion, base: MiniLMSentimentModel | None = None) -> MiniLMSentimentModel:
    """The version's head on the packaged encoder, ready to predict; its predictions carry the version id.

    `base` lends its encoder and embedding cache (its own head is left alone).
    """
    from sklearn.linear_model import LogisticRegression

    weights = np.load(io.BytesIO(version.read("head.npz")))
    head = LogisticRegression(C=4.0, max_iter=2000)
    head.coef_, head.intercept_ = weights["coef"], weights["intercept"]
    head.classes_ = weights["classes"].astype(object)
    head.n_features_in_ = head.coef_.shape[1]
    model = base.untrained_copy() if base is not None else MiniLMSentimentModel()
    model.head_, model.labels_, model.n_trained_ = head, [str(c) for c in head.classes_], version.n_trained
    model.version_id_ = version.version_id
    return model


def predict_with_version(version: ModelVersion, texts: Sequence[str], item_ids: Sequence[str],
                         model: MiniLMSentimentModel | None = None, progress: Progress | None = None
                         ) -> list[Prediction]:
    """The version's labels for these items, without refitting.

    Items it learnt from get its out-of-fold prediction instead of the head's, so their confidence never comes
    from a head that saw their label (a threshold calibrated on them stays honest).
    """
    model = model or load_model(version)
    predictions = model.predict(texts, item_ids, progress)
    calibration = pd.read_parquet(io.BytesIO(version.read("calibration.parquet"))).set_index("item_id")
    return [Prediction(p.item_id, str(calibration.at[p.item_id, "label"]),
                       float(calibration.at[p.item_id, "confidence"]), version.version_id)
            if p.item_id in calibration.index else p for p in predictions]
