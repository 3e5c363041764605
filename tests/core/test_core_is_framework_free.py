"""The core imports neither Streamlit nor Prefect: the dependency direction is one way."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pipelines.core


def test_core_modules_import_neither_streamlit_nor_prefect() -> None:
    modules = [f"pipelines.core.{m.name}" for m in pkgutil.iter_modules(pipelines.core.__path__)]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'streamlit', 'prefect'}))\n"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]", f"core imports {output.strip()}"
