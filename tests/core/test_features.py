from __future__ import annotations

import pandas as pd
import pytest

from pipelines.core.features import (
    FeatureSelectionInvalid,
    available_columns,
    default_drop,
    drop_features,
    markdown_table,
    preview_drop,
    profile_columns,
)
from tests.hostile import HOSTILE_PARTS, assert_shown_as_text

USERS = [
    {"name": {"first": "Ada", "last": "Byron"}, "email": "ada@example.com", "nat": "GB", "phone": None},
    {"name": {"first": "Alan", "last": "Turing"}, "email": "alan@example.com", "nat": "GB", "phone": "0123"},
]


def test_columns_in_first_seen_order_and_seed_defaults_present_only() -> None:
    assert available_columns(USERS) == ["name", "email", "nat", "phone"]
    assert default_drop(["name", "email", "nat"]) == ["email", "nat"]


def test_profile_gives_type_example_and_null_share() -> None:
    profile = profile_columns(USERS).set_index("column")
    assert profile.loc["name", "type"] == "object (first, last)"
    assert profile.loc["email", "example"] == "ada@example.com"
    assert profile.loc["phone", "null_share"] == 0.5 and profile.loc["phone", "example"] == "0123"


def test_drop_keeps_names_and_nested_structure() -> None:
    assert drop_features(USERS, ["email", "phone"]) == [
        {"name": {"first": "Ada", "last": "Byron"}, "nat": "GB"},
        {"name": {"first": "Alan", "last": "Turing"}, "nat": "GB"},
    ]
    assert drop_features(USERS, []) == USERS


def test_unknown_columns_are_refused_with_the_valid_ones() -> None:
    with pytest.raises(FeatureSelectionInvalid, match=r"Unknown column\(s\): 'mail'. Valid columns: name, email"):
        drop_features(USERS, ["mail"])


def test_dropping_every_column_is_refused() -> None:
    with pytest.raises(FeatureSelectionInvalid, match="keep at least one column"):
        drop_features(USERS, ["name", "email", "nat", "phone"])


def test_preview_drop_removes_flattened_children() -> None:
    flat = pd.json_normalize(USERS)
    assert list(preview_drop(flat, ["name"]).columns) == ["email", "nat", "phone"]


def test_markdown_table_is_short_and_escapes_pipes() -> None:
    frame = pd.DataFrame({"a": ["x|y"] * 10, "b": range(10)})
    table = markdown_table(frame, max_rows=3)
    assert table.splitlines()[:3] == ["| a | b |", "| --- | --- |", "| x\\|y | 0 |"]
    assert len(table.splitlines()) == 5


def test_markdown_table_shows_hostile_names_and_values_as_text() -> None:
    frame = pd.DataFrame({part: [part] for part in HOSTILE_PARTS} | {"multi": ["two\nlines"]})
    table = markdown_table(frame)
    for part in HOSTILE_PARTS:
        assert_shown_as_text(table, part)
    assert len(table.splitlines()) == 3  # a newline in a value does not break the table


def test_examples_show_real_characters_not_json_escapes() -> None:
    users = [{"name": {"first": "Jürgen", "last": "Römer"}, "location": {"city": "Zürich"}}]
    profile = profile_columns(users).set_index("column")
    assert profile.loc["name", "example"] == '{"first": "Jürgen", "last": "Römer"}'
