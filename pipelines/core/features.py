"""Which columns user records have, what they look like, and dropping some while keeping the structure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from pipelines.core.markdown import escape_markdown

# Seed 000's default: identifying and contact fields an analyst usually removes.
DEFAULT_FEATURES_TO_DROP = ("email", "login", "dob", "registered", "phone", "cell", "id", "nat")


class FeatureSelectionInvalid(ValueError):
    """The columns chosen for dropping cannot be applied; the message says what to choose instead."""


def available_columns(records: Sequence[dict[str, Any]]) -> list[str]:
    """Top-level fields present in any record, in first-seen order."""
    seen: dict[str, None] = {}
    for record in records:
        seen.update(dict.fromkeys(record))
    return list(seen)


def default_drop(columns: Sequence[str]) -> list[str]:
    """The seed's default drop list, restricted to the columns present."""
    return [column for column in DEFAULT_FEATURES_TO_DROP if column in columns]


def profile_columns(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per column: its type, an example value and the share of records where it is missing."""
    rows = []
    total = max(len(records), 1)
    for column in available_columns(records):
        values = [record.get(column) for record in records]
        present = [value for value in values if value not in (None, "")]
        example = present[0] if present else None
        rows.append({
            "column": column,
            "type": _type_name(example),
            "example": _short(example),
            "null_share": round(1 - len(present) / total, 4),
        })
    return pd.DataFrame(rows, columns=["column", "type", "example", "null_share"])


def validate_drop(columns: Sequence[str], features_to_drop: Sequence[str]) -> list[str]:
    """Check a drop list against the available columns and return it de-duplicated, in column order.

    Raises:
        FeatureSelectionInvalid: an unknown column (the message lists the valid ones), or every column.
    """
    unknown = [name for name in features_to_drop if name not in columns]
    if unknown:
        raise FeatureSelectionInvalid(
            f"Unknown column(s): {', '.join(map(repr, unknown))}. Valid columns: {', '.join(columns)}."
        )
    chosen = [column for column in columns if column in set(features_to_drop)]
    if len(chosen) == len(columns):
        raise FeatureSelectionInvalid("Dropping every column would leave nothing; keep at least one column.")
    return chosen


def drop_features(records: Sequence[dict[str, Any]], features_to_drop: Sequence[str]) -> list[dict[str, Any]]:
    """Records without the dropped fields; every other field keeps its name and nested structure."""
    chosen = set(validate_drop(available_columns(records), features_to_drop))
    return [{key: value for key, value in record.items() if key not in chosen} for record in records]


def _type_name(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "object (" + ", ".join(value) + ")"
    return type(value).__name__


def _short(value: Any, limit: int = 80) -> str:
    # ensure_ascii=False: people read these examples; "Römer" must not show as "R\u00f6mer".
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def preview_drop(flat: pd.DataFrame, features_to_drop: Sequence[str]) -> pd.DataFrame:
    """The flattened table without the dropped fields (`name` removes `name.first`, `name.last`, ...)."""
    dropped = set(features_to_drop)
    keep = [column for column in flat.columns if column.split(".", 1)[0] not in dropped]
    return flat[keep]


def markdown_table(frame: pd.DataFrame, max_rows: int = 5, max_columns: int = 8) -> str:
    """A short Markdown preview of a table, for pause descriptions; names and values show as text, escaped."""
    shown = frame.iloc[:max_rows, :max_columns]
    header = "| " + " | ".join(escape_markdown(str(column)) for column in shown.columns) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"
    body = ["| " + " | ".join(escape_markdown(_short(value, 30).replace("\n", " ")) for value in row) + " |"
            for row in shown.itertuples(index=False)]
    more = f"\n\n…and {len(frame.columns) - max_columns} more columns." if len(frame.columns) > max_columns else ""
    return "\n".join([header, rule, *body]) + more
