"""The reliability figures: a pytest plugin that tags each bad-input, fault and hostile case in the JUnit XML, and
a script that reads that XML and prints one JSON line.

`make reliability` runs `pytest -m "bad_input or fault or hostile" -p tests.reliability_report --junitxml=FILE`,
then `python -m tests.reliability_report FILE`. Each collected case (each parametrized one) carrying a marker is
one "tried"; it is clear, survived or blocked when it passed. Tests report what they counted with pytest's
`record_property`: `answers_lost`, `answers_doubled`, `secrets_leaked` (absent means 0).
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# Each marker and the names of its two figures: cases tried, and cases that passed.
FIGURES = {
    "bad_input": ("bad_inputs_tried", "bad_inputs_clear"),
    "fault": ("faults_tried", "faults_survived"),
    "hostile": ("hostile_inputs_tried", "hostile_inputs_blocked"),
}
COUNTS = ("answers_lost", "answers_doubled", "secrets_leaked")
KIND_PROPERTY = "reliability_kind"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Write each case's reliability markers into its JUnit properties, which is all the XML keeps of a case."""
    for item in items:
        for marker in FIGURES:
            if item.get_closest_marker(marker) is not None:
                item.user_properties.append((KIND_PROPERTY, marker))


def figures(junit_xml: Path) -> dict[str, int]:
    """The report's figures from a JUnit XML file written with this plugin loaded.

    A skipped case (e.g. no PostgreSQL on the machine) is not tried; `skipped` says how many were.
    """
    report = {name: 0 for pair in FIGURES.values() for name in pair} | {name: 0 for name in COUNTS}
    report["skipped"] = 0
    for case in ET.parse(junit_xml).iter("testcase"):
        properties = [(p.get("name"), p.get("value")) for p in case.iter("property")]
        kinds = {value for name, value in properties if name == KIND_PROPERTY}
        if not kinds:
            continue
        if case.find("skipped") is not None:
            report["skipped"] += 1
            continue
        passed = case.find("failure") is None and case.find("error") is None
        for kind in kinds:
            tried, passed_name = FIGURES[kind]
            report[tried] += 1
            report[passed_name] += passed
        for name, value in properties:
            if name in COUNTS:
                report[name] += int(value or 0)
    return report


def main(argv: list[str]) -> int:
    """Print the figures as one JSON line; exit 1 unless every case tried passed and nothing was lost or leaked."""
    if len(argv) != 1:
        print("usage: python -m tests.reliability_report JUNIT_XML", file=sys.stderr)
        return 2
    report = figures(Path(argv[0]))
    print(json.dumps(report))
    whole = all(report[tried] == report[passed] for tried, passed in FIGURES.values())
    return 0 if whole and not any(report[name] for name in COUNTS) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
