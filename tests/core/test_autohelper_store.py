"""A run's stored tables: CSV copies keep formula-looking cells as text; a run id never names a folder elsewhere."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from pipelines.core.autohelper_store import AutohelperStore, UnsafeRunId
from pipelines.core.run_data import FolderRunData
from tests.core.test_crowd import FORMULAS


def test_csv_export_keeps_formula_cells_and_names_text(tmp_path) -> None:
    frame = pd.DataFrame({"text": list(FORMULAS), "=label": ["pos"] * len(FORMULAS)})
    path = Path(AutohelperStore.for_run(FolderRunData(tmp_path), "run-1").export_csv("final", frame))
    with path.open(newline="") as file:  # the csv module keeps a quoted carriage return inside its cell
        written = list(csv.DictReader(file))
    assert [row["text"] for row in written] == [f"'{value}" for value in FORMULAS]
    assert list(written[0]) == ["text", "'=label"]


@pytest.mark.parametrize("run_id", ["../../x", "a/b", "/etc", "..", "", "x\n"])
def test_a_run_id_that_is_a_path_is_refused(tmp_path, run_id: str) -> None:
    with pytest.raises(UnsafeRunId, match="is not a run id"):
        AutohelperStore.for_run(FolderRunData(tmp_path), run_id)
    assert not any(tmp_path.iterdir())


def test_a_run_id_names_its_folder_under_the_data_folder(tmp_path) -> None:
    run_id = "0b6e1c2a-5d1e-4f7e-9a47-3c1f2a9d8e10"
    written = AutohelperStore.for_run(FolderRunData(tmp_path), run_id).write("final", pd.DataFrame({"item": ["a"]}))
    assert Path(written) == tmp_path / "autohelper" / run_id / "final.parquet"


_WRITE_WITH_FILE_SIZE_LIMIT = """
import json, resource, signal, sys
import pandas as pd
from pipelines.core.autohelper_store import AutohelperStore
from pipelines.core.run_data import FolderRunData, RunDataNotWritten

# The kernel refuses to grow any file past 64 KiB, as a full disk would: write(2) fails (EFBIG) mid-file.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
store = AutohelperStore.for_run(FolderRunData(sys.argv[1]), "run-1")
frame = pd.DataFrame({"text": [f"review {i} " + "long text " * 40 for i in range(5_000)], "label": "pos"})
errors = {}
for name, write in {"parquet": lambda: store.write("final", frame), "csv": lambda: store.export_csv("final", frame)}.items():
    try:
        write()
    except RunDataNotWritten as exc:
        errors[name] = [exc.errno, str(exc)]
print(json.dumps(errors))
"""


@pytest.mark.fault
def test_a_final_table_written_on_a_full_disk_keeps_the_previous_version_and_leaves_no_partial_file(
        tmp_path, record_property) -> None:
    import errno
    import json
    import subprocess
    import sys
    from pathlib import Path

    store = AutohelperStore.for_run(FolderRunData(tmp_path), "run-1")
    previous = pd.DataFrame({"text": ["good", "bad =1+1"], "label": ["pos", "neg"]})
    store.write("final", previous)
    store.export_csv("final", previous)
    folder = tmp_path / "autohelper" / "run-1"
    csv_before = (folder / "final.csv").read_bytes()

    root = Path(__file__).resolve().parents[2]
    child = subprocess.run([sys.executable, "-c", _WRITE_WITH_FILE_SIZE_LIMIT, str(tmp_path)], check=False,
                           capture_output=True, text=True, cwd=root, env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert child.returncode == 0, child.stderr
    errors = json.loads(child.stdout)
    assert set(errors) == {"parquet", "csv"}  # both writes failed, each with a plain message
    for code, message in errors.values():
        assert code == errno.EFBIG and "previous version is kept" in message and "Free disk space" in message

    pd.testing.assert_frame_equal(store.read("final"), previous)
    assert (folder / "final.csv").read_bytes() == csv_before
    assert sorted(path.name for path in folder.iterdir()) == ["final.csv", "final.parquet"]
    record_property("answers_lost", 0 if len(store.read("final")) == len(previous) else len(previous))
    record_property("answers_doubled", 0)


def test_a_table_written_in_chunks_reads_back_as_the_whole_table_in_row_groups(tmp_path) -> None:
    import pyarrow.parquet as pq

    from tests.review_files import skewed_reviews

    reviews = skewed_reviews(300)  # 10% negatives, long texts
    frame = pd.DataFrame({"item_id": [f"i{i}" for i in range(300)], "text": reviews.sentence,
                          "true_label": reviews.score.map({1: "pos", 0: "neg"}),
                          "confidence": [i / 300 for i in range(300)], "correct": reviews.score == 1})
    store = AutohelperStore.for_run(FolderRunData(tmp_path), "run-1")
    store.write_chunks("predictions", (frame.iloc[start:start + 64] for start in range(0, 300, 64)))
    pd.testing.assert_frame_equal(store.read("predictions"), frame)
    assert pq.ParquetFile(tmp_path / "autohelper" / "run-1" / "predictions.parquet").num_row_groups == 5


def test_a_chunked_write_that_fails_midway_keeps_the_previous_table(tmp_path) -> None:
    store = AutohelperStore.for_run(FolderRunData(tmp_path), "run-1")
    previous = pd.DataFrame({"item_id": ["a"], "confidence": [0.5]})
    store.write("predictions", previous)

    def chunks():
        yield pd.DataFrame({"item_id": ["b"], "confidence": [0.9]})
        raise RuntimeError("the model failed on the second chunk")

    with pytest.raises(RuntimeError, match="second chunk"):
        store.write_chunks("predictions", chunks())
    pd.testing.assert_frame_equal(store.read("predictions"), previous)
    assert sorted(p.name for p in (tmp_path / "autohelper" / "run-1").iterdir()) == ["predictions.parquet"]
