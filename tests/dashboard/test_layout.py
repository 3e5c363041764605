"""The dashboard's shape holds: one door to Prefect, and page parts that never reach up into pages."""

from __future__ import annotations

import ast
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules(folder: Path) -> dict[str, set[str]]:
    return {str(path.relative_to(DASHBOARD)): _imports(path) for path in sorted(folder.rglob("*.py"))}


def test_only_the_gateway_talks_to_prefect() -> None:
    talking = {module for module, names in _modules(DASHBOARD).items()
               if any(name == "prefect" or name.startswith(("prefect.", "pipelines.flows")) for name in names)}
    assert talking == {"gateway.py"}


def test_ui_and_panels_never_import_pages_and_ui_never_imports_panels() -> None:
    for module, names in {**_modules(DASHBOARD / "ui"), **_modules(DASHBOARD / "panels")}.items():
        assert not any(name.startswith("dashboard.views") for name in names), module
    for module, names in _modules(DASHBOARD / "ui").items():
        assert not any(name.startswith("dashboard.panels") for name in names), module
