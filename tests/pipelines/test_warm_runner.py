"""The warm runner starts a run's process from a flow it imports by name; every flow test runs through it."""

from __future__ import annotations

import pytest
from prefect import flow

from pipelines.deployments import PROJECT_FLOWS, project_deployments
from pipelines.warm_runner import PRELOADED_MODULES, _flow_reference


def test_every_served_flow_is_found_again_by_its_reference() -> None:
    import importlib

    for name, served in PROJECT_FLOWS.items():
        module, attribute = _flow_reference(served)
        assert getattr(importlib.import_module(module), attribute) is served, name
    assert {d.name for d in project_deployments()} == set(PROJECT_FLOWS)


def test_a_flow_its_module_does_not_hold_is_refused_with_where_it_was_looked_for() -> None:
    @flow(name="made-in-a-test")
    def local_flow() -> None:
        return None

    with pytest.raises(ValueError, match="made-in-a-test.*not importable as tests.pipelines.test_warm_runner"):
        _flow_reference(local_flow)


def test_the_fork_server_preloads_only_importable_modules() -> None:
    import importlib

    for module in PRELOADED_MODULES:
        importlib.import_module(module)
