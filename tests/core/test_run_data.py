"""The run-data store on the data folder, an SQLite file and a real PostgreSQL server: blobs come back as stored,
a database write is all or nothing, and no key can name anything outside the store."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.run_data import (
    MAX_PARAMETER_BYTES,
    DatabaseRunData,
    FolderRunData,
    ParameterDataMissing,
    RunDataStore,
    RunDataUrlInvalid,
    UnsafeKey,
    UnsafeRunId,
    UploadMissing,
    load_parameter,
    load_result,
    load_upload,
    open_run_data,
    parameter_or_reference,
    save_result,
    save_upload,
)
from tests.review_files import skewed_reviews

UNSAFE_KEYS = ["../escaped", "/etc/passwd", "a/../b", "a//b", "a/", "", ".hidden", "a\\b", "a/b\n", "x.partial"]


def test_blobs_come_back_as_stored_and_a_second_write_replaces_the_first(run_data: RunDataStore) -> None:
    payload = bytes(range(256)) * 1000  # binary, not text; a quarter megabyte
    run_data.put("autohelper/run-1/predictions.parquet", payload)
    assert run_data.get("autohelper/run-1/predictions.parquet") == payload
    run_data.put("autohelper/run-1/predictions.parquet", b"second")
    assert run_data.get("autohelper/run-1/predictions.parquet") == b"second"
    assert run_data.get("autohelper/run-1/final.parquet") is None


def test_keys_list_one_folder_like_prefix_sorted(run_data: RunDataStore) -> None:
    run_data.put_many({"models/v2/version.json": b"2", "models/v1/head.npz": b"h", "models/v1/version.json": b"1",
                       "models2/other": b"x", "uploads/a.csv": b"a"})
    assert run_data.keys("models") == ["models/v1/head.npz", "models/v1/version.json", "models/v2/version.json"]
    assert run_data.keys("models/v1") == ["models/v1/head.npz", "models/v1/version.json"]
    assert run_data.keys("nothing") == []


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_a_key_that_could_leave_the_store_is_refused_before_anything_is_written(run_data: RunDataStore,
                                                                                key: str, tmp_path: Path) -> None:
    with pytest.raises(UnsafeKey, match="is not a run-data key"):
        run_data.put_many({"uploads/fine.csv": b"fine", key: b"evil"})
    with pytest.raises(UnsafeKey):
        run_data.get(key)
    assert run_data.get("uploads/fine.csv") is None  # the good key in the same write was not stored either
    assert list(tmp_path.rglob("escaped*")) == []


def test_a_database_write_that_fails_half_way_stores_nothing(run_data: RunDataStore) -> None:
    if not isinstance(run_data, DatabaseRunData):
        pytest.skip("the data folder writes each file whole, not several in one transaction")
    run_data.put("models/v1/head.npz", b"old head")

    def fail_on_the_second_blob(connection, cursor, statement, parameters, context, executemany) -> None:
        if "models/v1/version.json" in str(parameters):
            raise ConnectionError("the database went away mid-write")

    sa.event.listen(run_data.engine, "before_cursor_execute", fail_on_the_second_blob)
    try:
        with pytest.raises(ConnectionError, match="went away"):  # after the first blob was sent
            run_data.put_many({"models/v1/head.npz": b"new head", "models/v1/version.json": b"{}"})
    finally:
        sa.event.remove(run_data.engine, "before_cursor_execute", fail_on_the_second_blob)
    assert run_data.get("models/v1/head.npz") == b"old head"
    assert run_data.keys("models") == ["models/v1/head.npz"]


def test_the_data_folder_keeps_its_files_where_they_always_were_and_never_lists_half_written_ones(tmp_path) -> None:
    store = FolderRunData(tmp_path)
    location = AutohelperStore.for_run(store, "run-1").write("final", pd.DataFrame({"item": ["a"], "label": ["pos"]}))
    assert location == str(tmp_path / "autohelper" / "run-1" / "final.parquet") and Path(location).is_file()
    (tmp_path / "autohelper" / "run-1" / "manual.parquet.partial").write_bytes(b"half")
    assert store.keys("autohelper") == ["autohelper/run-1/final.parquet"]
    assert sorted(p.name for p in (tmp_path / "autohelper" / "run-1").iterdir()) == ["final.parquet",
                                                                                   "manual.parquet.partial"]


def test_a_run_s_tables_and_csv_export_round_trip_through_every_store(run_data: RunDataStore) -> None:
    reviews = skewed_reviews(500)  # 10% negatives, long texts
    frame = pd.DataFrame({"item_id": [f"i{i}" for i in range(len(reviews))], "text": reviews.sentence,
                          "label": reviews.score.map({1: "pos", 0: "neg"}), "confidence": np.linspace(0, 1, 500)})
    store = AutohelperStore.for_run(run_data, "0b6e1c2a-5d1e-4f7e-9a47-3c1f2a9d8e10")
    store.write("predictions", frame)
    pd.testing.assert_frame_equal(store.read("predictions"), frame)
    assert store.read("final") is None
    store.export_csv("final", frame.assign(text="=HYPERLINK(\"x\")"))
    exported = pd.read_csv(io.BytesIO(run_data.get(store.key("final", ".csv"))))
    assert (exported.text == "'=HYPERLINK(\"x\")").all()


def test_an_upload_is_stored_by_content_and_read_back_by_its_reference(run_data: RunDataStore) -> None:
    content = b"sentence\tscore\nGreat film.\t1\n"
    reference = save_upload(run_data, content, ".TSV")
    assert reference.startswith("upload:") and reference.endswith(".tsv")
    assert save_upload(run_data, content, ".tsv") == reference  # a re-upload is the same blob
    assert load_upload(run_data, reference) == content
    with pytest.raises(UploadMissing, match="upload the file again"):
        load_upload(run_data, "upload:0000000000000000.csv")
    with pytest.raises(UnsafeKey):
        load_upload(run_data, "upload:../../etc/passwd")


def test_a_run_result_comes_back_as_json_and_a_run_id_must_be_one(run_data: RunDataStore) -> None:
    save_result(run_data, "run-1", {"threshold": np.float64(0.9), "batch_id": np.int64(3), "labels": ["neg", "pos"],
                                    "alpha": None})
    assert load_result(run_data, "run-1") == {"threshold": 0.9, "batch_id": 3, "labels": ["neg", "pos"],
                                              "alpha": None}
    assert load_result(run_data, "run-2") is None
    with pytest.raises(UnsafeRunId, match="is not a run id"):
        save_result(run_data, "../run-1", {})


def test_a_small_parameter_goes_as_itself_and_a_large_one_as_a_reference_to_the_same_value(
        run_data: RunDataStore) -> None:
    few = [{"name": {"first": "Ada"}, "email": "ada@example.org"}]
    assert parameter_or_reference(run_data, "run-1", "users", few) is few
    assert run_data.keys("parameters") == []
    many = [{"name": {"first": f"Person {i}", "last": "Römer"}, "note": "x" * 500} for i in range(1_000)]
    reference = parameter_or_reference(run_data, "run-1", "users", many)
    assert reference == "run-data:parameters/run-1/users.json" and len(reference) < MAX_PARAMETER_BYTES
    assert load_parameter(run_data, reference) == many
    assert load_parameter(run_data, few) == few and load_parameter(run_data, "plain text") == "plain text"


def test_a_parameter_reference_to_nothing_or_outside_the_store_is_refused(run_data: RunDataStore) -> None:
    with pytest.raises(ParameterDataMissing, match="start the run that passed it again"):
        load_parameter(run_data, "run-data:parameters/run-9/users.json")
    with pytest.raises(UnsafeKey):
        load_parameter(run_data, "run-data:../../etc/passwd")
    with pytest.raises(UnsafeRunId):
        parameter_or_reference(run_data, "../run-1", "users", ["x" * MAX_PARAMETER_BYTES])


def test_the_url_names_the_store(tmp_path) -> None:
    assert isinstance(open_run_data(None, tmp_path), FolderRunData)
    assert open_run_data(None, tmp_path).root == tmp_path
    sqlite_store = open_run_data(f"sqlite:///{tmp_path / 'r.db'}", tmp_path)
    assert isinstance(sqlite_store, DatabaseRunData) and (tmp_path / "r.db").exists()
    for url in ("s3://bucket/run-data", "mysql://user@host/db", "not a url"):
        with pytest.raises(RunDataUrlInvalid, match="HITL_RUN_DATA_URL"):
            open_run_data(url, tmp_path)


def test_a_plain_postgresql_url_uses_psycopg_and_messages_hide_the_password(postgres_server: str) -> None:
    url = postgres_server.format(database="postgres").replace("postgresql+psycopg://hitl@",
                                                              "postgresql://hitl:s3cret@")
    store = open_run_data(url, Path("/unused"))
    assert store.engine.dialect.driver == "psycopg"  # type: ignore[attr-defined]
    store.put("uploads/a.csv", b"a")
    assert "s3cret" not in store.location("uploads/a.csv") and "s3cret" not in repr(store)
