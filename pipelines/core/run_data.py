"""Everything a run produces or needs beyond its parameters, behind one store named by one URL setting.

`HITL_RUN_DATA_URL` unset: the data folder (laptop mode), files as they always were (`uploads/…`, `autohelper/<run
id>/…`, `models/<version id>/…`), each written to a temporary name and renamed, so a reader never sees half a file.
`postgresql+psycopg://…` (or `sqlite:///…`): a table of named blobs in that database, one transaction per write,
so a team's dashboard and workers on different machines share run data through the database they already run
for the Prefect server and the answer store.

Keys are relative names such as `autohelper/<run id>/predictions.parquet`; a key that could leave its place (an
absolute path, `..`, an empty part, a backslash) is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pipelines.core.answer_store import _sqlite_pragmas
from pipelines.core.settings import Settings, get_settings

_KEY_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
PARTIAL_SUFFIX = ".partial"
UPLOAD_PREFIX = "upload:"
UPLOADS = "uploads"
RESULTS = "results"
PARAMETERS = "parameters"
PARAMETER_REFERENCE_PREFIX = "run-data:"
# Prefect keeps every run's parameters in its database and sends them with each read of the run (its UI, the
# dashboard's run lists): a value whose JSON is larger than this goes to a subflow as a run-data reference instead.
MAX_PARAMETER_BYTES = 256 * 1024


class UnsafeKey(ValueError):
    """A run-data key that could name something outside the store (an absolute path, `..`, a backslash)."""


class UnsafeRunId(UnsafeKey):
    """A run id that is not one, such as a path: it would name a place outside the run's own."""


class RunDataUrlInvalid(ValueError):
    """`HITL_RUN_DATA_URL` names no store this project can use."""


class UploadMissing(LookupError):
    """An `upload:` dataset reference names no stored upload."""


class ParameterDataMissing(LookupError):
    """A `run-data:` parameter reference names nothing in the run data."""


def check_key(key: str) -> str:
    """The key itself when every `/`-separated part is a plain name (letters, digits, `.`, `_`, `-`, starting with
    a letter or digit).

    Raises:
        UnsafeKey: it is not; the message quotes it.
    """
    parts = str(key).split("/")
    if not all(_KEY_PART.fullmatch(part) for part in parts) or key.endswith(PARTIAL_SUFFIX):
        raise UnsafeKey(f"{str(key)[:120]!r} is not a run-data key: use relative names like "
                        "'autohelper/<run id>/predictions.parquet' (no '..', no leading '/', no backslash).")
    return key


def check_run_id(run_id: str) -> str:
    """The run id itself, which must be a run id, never a path.

    Raises:
        UnsafeRunId: it has anything but letters, digits and dashes (a `/` or `..` would leave the run's place).
    """
    if not _RUN_ID.fullmatch(str(run_id)):
        raise UnsafeRunId(f"{str(run_id)[:80]!r} is not a run id: give the run's id, like "
                          "'0b6e1c2a-5d1e-4f7e-9a47-3c1f2a9d8e10'.")
    return str(run_id)


class RunDataNotWritten(OSError):
    """A blob could not be written (e.g. the disk is full); its previous version, if any, is unchanged and no
    partial file is left."""


class RunDataStore(ABC):
    """Named blobs: put whole, read whole, listed by prefix."""

    @abstractmethod
    def put_many(self, items: Mapping[str, bytes]) -> None:
        """Store several blobs. A database stores all or none; a folder stores each whole, in the order given,
        so a reader that waits for the last one (a version's `version.json`) sees the others whole too."""

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The blob stored under `key`, or None when there is none."""

    @abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """Every stored key under the folder-like `prefix` (`models` lists `models/…`), sorted."""

    @abstractmethod
    def location(self, key: str) -> str:
        """Where a person finds `key`: a file path, or the database (password hidden) and the key."""

    def put(self, key: str, data: bytes) -> str:
        """Store one blob whole, replacing any under the same key; returns its `location`."""
        self.put_many({key: data})
        return self.location(key)


class FolderRunData(RunDataStore):
    """Blobs as files under a folder (the data folder in laptop mode); keys are their relative paths."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FolderRunData({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_many(self, items: Mapping[str, bytes]) -> None:
        paths = {self._path(key): data for key, data in items.items()}  # every key checked before any write
        for path, data in paths.items():
            partial = path.with_name(path.name + PARTIAL_SUFFIX)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial.write_bytes(data)
                os.replace(partial, path)
            except OSError as exc:
                partial.unlink(missing_ok=True)
                raise RunDataNotWritten(exc.errno, f"{path.name} was not written ({exc.strerror or exc}); its "
                                        "previous version is kept. Free disk space in the data folder and run "
                                        "again.") from exc

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return sorted(path.relative_to(self.root).as_posix() for path in folder.rglob("*")
                      if path.is_file() and not path.name.endswith(PARTIAL_SUFFIX)
                      and all(_KEY_PART.fullmatch(part) for part in path.relative_to(self.root).parts))

    def location(self, key: str) -> str:
        return str(self._path(key))


_metadata = sa.MetaData()
_blobs = sa.Table(
    "run_data", _metadata,
    sa.Column("key", sa.String(1000), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
_UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class DatabaseRunData(RunDataStore):
    """Blobs as rows of the `run_data` table (key, data, sha256, updated_at) in PostgreSQL or SQLite."""

    def __init__(self, url: str) -> None:
        try:
            self.engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise RunDataUrlInvalid(f"HITL_RUN_DATA_URL {_hidden(url)!r} is not a database URL SQLAlchemy can "
                                    f"open ({exc}); use postgresql+psycopg://user@host/database.") from exc
        if self.engine.dialect.name not in _UPSERTS:
            raise RunDataUrlInvalid(f"HITL_RUN_DATA_URL names a {self.engine.dialect.name} database; run data "
                                    "lives in PostgreSQL or SQLite.")
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        _metadata.create_all(self.engine)

    def __repr__(self) -> str:
        return f"DatabaseRunData({_hidden(str(self.engine.url))!r})"

    def put_many(self, items: Mapping[str, bytes]) -> None:
        now = datetime.now(UTC)
        rows = [{"key": check_key(key), "data": data, "sha256": hashlib.sha256(data).hexdigest(), "updated_at": now}
                for key, data in items.items()]
        insert = _UPSERTS[self.engine.dialect.name](_blobs)
        upsert = insert.on_conflict_do_update(index_elements=["key"], set_={
            "data": insert.excluded.data, "sha256": insert.excluded.sha256, "updated_at": insert.excluded.updated_at})
        with self.engine.begin() as connection:  # one transaction: every blob or none
            for row in rows:
                connection.execute(upsert, row)

    def get(self, key: str) -> bytes | None:
        with self.engine.connect() as connection:
            data = connection.execute(sa.select(_blobs.c.data).where(_blobs.c.key == check_key(key))).scalar()
        return None if data is None else bytes(data)

    def keys(self, prefix: str) -> list[str]:
        folder = check_key(prefix) + "/"
        with self.engine.connect() as connection:
            return list(connection.execute(sa.select(_blobs.c.key).where(_blobs.c.key.startswith(
                folder, autoescape=True)).order_by(_blobs.c.key)).scalars())

    def location(self, key: str) -> str:
        return f"{check_key(key)} in the run_data table of {_hidden(str(self.engine.url))}"


def _hidden(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<not a URL>"


@lru_cache(maxsize=8)
def open_run_data(url: str | None, data_dir: Path) -> RunDataStore:
    """The store a `HITL_RUN_DATA_URL` names: None or empty, the data folder; a database URL, its `run_data` table.

    A plain `postgresql://` URL uses psycopg 3, the driver the project installs.

    Raises:
        RunDataUrlInvalid: the URL is not a PostgreSQL or SQLite URL.
    """
    if not url:
        return FolderRunData(data_dir)
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith(("postgresql+", "sqlite:")):
        raise RunDataUrlInvalid(f"HITL_RUN_DATA_URL {_hidden(url)!r} is neither PostgreSQL nor SQLite: use "
                                "postgresql+psycopg://user@host/database, or leave it unset for the data folder.")
    return DatabaseRunData(url)


def run_data_store(settings: Settings | None = None) -> RunDataStore:
    """The store the settings name (`HITL_RUN_DATA_URL`, else `HITL_DATA_DIR`), opened once per process."""
    settings = settings or get_settings()
    return open_run_data(settings.run_data_url, settings.data_dir)


def upload_reference(content: bytes, suffix: str) -> str:
    """The reference a flow's `dataset` parameter takes for an upload, `upload:<sha>.<suffix>`: named by its
    content, so a re-upload is not a new blob."""
    return f"{UPLOAD_PREFIX}{hashlib.sha256(content).hexdigest()[:16]}{suffix.lower()}"


def save_upload(store: RunDataStore, content: bytes, suffix: str) -> str:
    """Store an uploaded dataset under its `upload_reference`, and return that reference."""
    reference = upload_reference(content, suffix)
    store.put(f"{UPLOADS}/{reference.removeprefix(UPLOAD_PREFIX)}", content)
    return reference


def is_upload(dataset: str) -> bool:
    """Whether a `dataset` parameter names a stored upload rather than a path, URL or the sample."""
    return dataset.startswith(UPLOAD_PREFIX)


def load_upload(store: RunDataStore, reference: str) -> bytes:
    """The bytes of an uploaded dataset from its `upload:<name>` reference.

    Raises:
        UnsafeKey: the name is not a plain file name.
        UploadMissing: nothing is stored under it; upload the file again.
    """
    key = f"{UPLOADS}/{reference.removeprefix(UPLOAD_PREFIX)}"
    content = store.get(key)
    if content is None:
        raise UploadMissing(f"No upload {reference!r} in the run data ({store.location(key)}): upload the file "
                            "again on the autohelper page.")
    return content


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"A run result holds a {type(value).__name__}, which JSON cannot keep.")


def save_result(store: RunDataStore, run_id: str, result: Mapping[str, Any]) -> None:
    """Keep what a flow run returned, as JSON, where the dashboard reads it (`results/<run id>.json`)."""
    store.put(f"{RESULTS}/{check_run_id(run_id)}.json", json.dumps(result, default=_plain).encode())


def load_result(store: RunDataStore, run_id: str) -> Any:
    """What a flow run returned (as `save_result` kept it), or None when it kept nothing."""
    data = store.get(f"{RESULTS}/{check_run_id(run_id)}.json")
    return None if data is None else json.loads(data)


def parameter_or_reference(store: RunDataStore, run_id: str, name: str, value: Any) -> Any:
    """`value` as a flow parameter: itself when its JSON takes at most `MAX_PARAMETER_BYTES`, else stored as
    `parameters/<run id>/<name>.json` and passed as the reference `run-data:parameters/<run id>/<name>.json`.

    `run_id` is the run handing the value on; `load_parameter` on the receiving side gives the value back either way.
    """
    encoded = json.dumps(value, default=_plain).encode()
    if len(encoded) <= MAX_PARAMETER_BYTES:
        return value
    key = f"{PARAMETERS}/{check_run_id(run_id)}/{check_key(name)}.json"
    store.put(key, encoded)
    return f"{PARAMETER_REFERENCE_PREFIX}{key}"


def load_parameter(store: RunDataStore, parameter: Any) -> Any:
    """A parameter's value: read from the run data when it is a `run-data:` reference, else the parameter itself.

    Raises:
        UnsafeKey: the reference names no plain run-data key.
        ParameterDataMissing: nothing is stored under the reference (the run data was cleared); start the parent run
            again.
    """
    if not (isinstance(parameter, str) and parameter.startswith(PARAMETER_REFERENCE_PREFIX)):
        return parameter
    key = check_key(parameter.removeprefix(PARAMETER_REFERENCE_PREFIX))
    data = store.get(key)
    if data is None:
        raise ParameterDataMissing(f"The parameter {parameter!r} names nothing in the run data "
                                   f"({store.location(key)}): start the run that passed it again.")
    return json.loads(data)
