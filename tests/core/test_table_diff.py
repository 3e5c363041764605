from __future__ import annotations

from pipelines.core.table_diff import diff_tables


def test_added_and_removed_rows_and_columns() -> None:
    old = [{"id": 1, "city": "Oslo"}, {"id": 2, "city": "Rome"}]
    new = [{"id": 2, "city": "Rome", "age": 40}, {"id": 3, "city": "Lima", "age": 30}]
    diff = diff_tables(old, new)
    assert diff.columns_added == ["age"] and diff.columns_removed == []
    assert diff.rows_added == [{"id": 3, "city": "Lima", "age": 30}]
    assert diff.rows_removed == [{"id": 1, "city": "Oslo"}]


def test_identical_tables_are_unchanged_and_duplicates_count() -> None:
    rows = [{"a": 1}, {"a": 1}]
    assert diff_tables(rows, list(rows)).unchanged
    assert diff_tables(rows, rows[:1]).rows_removed == [{"a": 1}]
