"""`make reliability`'s figures: each marked case counts once per marker, passed or not, with its recorded counts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.reliability_report import figures, main

JUNIT = """<testsuites><testsuite>
  <testcase name="a"><properties><property name="reliability_kind" value="bad_input"/></properties></testcase>
  <testcase name="b"><properties><property name="reliability_kind" value="bad_input"/></properties>
    <failure message="no message"/></testcase>
  <testcase name="c"><properties><property name="reliability_kind" value="fault"/>
    <property name="answers_lost" value="0"/><property name="answers_doubled" value="2"/></properties></testcase>
  <testcase name="d"><properties><property name="reliability_kind" value="hostile"/></properties>
    <skipped message="no postgres"/></testcase>
  <testcase name="e"><properties><property name="reliability_kind" value="hostile"/>
    <property name="secrets_leaked" value="0"/></properties></testcase>
  <testcase name="plain"/>
</testsuite></testsuites>"""


def test_figures_count_tried_and_passed_per_marker_and_sum_the_recorded_counts(tmp_path: Path, capsys) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    assert figures(report) == {
        "bad_inputs_tried": 2, "bad_inputs_clear": 1, "faults_tried": 1, "faults_survived": 1,
        "hostile_inputs_tried": 1, "hostile_inputs_blocked": 1, "answers_lost": 0, "answers_doubled": 2,
        "secrets_leaked": 0, "skipped": 1,
    }
    assert main([str(report)]) == 1  # a bad input not clear and two answers doubled
    assert json.loads(capsys.readouterr().out)["bad_inputs_clear"] == 1
