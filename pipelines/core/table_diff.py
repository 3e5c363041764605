"""What changed between two versions of a table: columns and rows added or removed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TableDiff:
    columns_added: list[str]
    columns_removed: list[str]
    rows_added: list[dict[str, Any]]
    rows_removed: list[dict[str, Any]]

    @property
    def unchanged(self) -> bool:
        return not (self.columns_added or self.columns_removed or self.rows_added or self.rows_removed)


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def diff_tables(old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]) -> TableDiff:
    """Compare two tables given as lists of row dicts.

    Rows are compared on the columns both versions share, as multisets, so a column added or removed does
    not make every row look new, and duplicate rows are counted.
    """
    old_columns, new_columns = _columns(old), _columns(new)
    shared = [column for column in new_columns if column in set(old_columns)]

    def key(row: dict[str, Any]) -> str:
        return json.dumps([row.get(column) for column in shared], default=str)

    old_keys, new_keys = Counter(map(key, old)), Counter(map(key, new))
    added, removed = new_keys - old_keys, old_keys - new_keys
    return TableDiff(
        columns_added=[c for c in new_columns if c not in set(old_columns)],
        columns_removed=[c for c in old_columns if c not in set(new_columns)],
        rows_added=_take(new, key, added),
        rows_removed=_take(old, key, removed),
    )


def _take(rows: Sequence[dict[str, Any]], key: Any, wanted: Counter[str]) -> list[dict[str, Any]]:
    remaining = Counter(wanted)
    taken = []
    for row in rows:
        row_key = key(row)
        if remaining[row_key] > 0:
            remaining[row_key] -= 1
            taken.append(row)
    return taken
