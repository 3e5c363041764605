"""The dashboard tests' shared fixtures: the autohelper's dataset form under AppTest, in a data folder of its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.core.settings import get_settings


def _form_page() -> None:
    import streamlit as st

    from dashboard.panels.dataset import dataset_form

    st.session_state["parameters"] = dataset_form()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Uploads land in a data folder of the test's own."""
    monkeypatch.setenv("HITL_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def form(data_dir: Path) -> AppTest:
    app = AppTest.from_function(_form_page, default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    return app


def _upload(app: AppTest, name: str, content: bytes) -> AppTest:
    app.radio(key="autohelper.source").set_value("Upload a file").run()
    app.file_uploader(key="autohelper.upload").upload(name, content, "text/plain").run()
    assert not app.exception, app.exception
    return app


def _plain(markdown: str) -> str:
    """Text as the page renders it: dataset values in messages are backslash-escaped Markdown."""
    return re.sub(r"\\(.)", r"\1", markdown)
