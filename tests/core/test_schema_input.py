"""Schema → field specs, and answers checked against the schema, over many pydantic-made schemas."""

from __future__ import annotations

from enum import Enum
from typing import Literal

import pytest
from prefect.input import RunInput
from pydantic import BaseModel, Field

from pipelines.core.schema_input import InputInvalid, coerce_and_validate, resolve_field_specs


class Colour(str, Enum):
    RED = "red"
    BLUE = "blue"


class Point(BaseModel):
    x: int
    y: int


class Everything(BaseModel):
    count: int = Field(default=2, ge=1, le=5000, title="Number of users")
    ratio: float = Field(default=0.5, gt=0, lt=1)
    nickname: str | None = Field(default=None, min_length=2)
    approve: bool = False
    mode: Literal["fast", "careful"] = "fast"
    colour: Colour = Colour.RED
    drop: list[Literal["email", "phone", "nat"]] = Field(default_factory=list, max_length=2)
    tags: list[str] = Field(default_factory=list)
    origin: Point | None = None
    limit: int | None = Field(default=None, gt=0)


SCHEMA = Everything.model_json_schema()


def test_field_specs_describe_every_shape() -> None:
    specs = {spec.name: spec for spec in resolve_field_specs(SCHEMA)}
    assert (specs["count"].kind, specs["count"].minimum, specs["count"].maximum, specs["count"].default) == (
        "integer", 1, 5000, 2)
    assert specs["count"].title == "Number of users"
    assert specs["ratio"].kind == "number" and specs["ratio"].minimum == 0  # exclusive bound kept for floats
    assert specs["nickname"].kind == "string" and specs["nickname"].nullable
    assert specs["approve"].kind == "boolean"
    assert specs["mode"].kind == "choice" and specs["mode"].choices == ("fast", "careful")
    assert specs["colour"].kind == "choice" and specs["colour"].choices == ("red", "blue")
    assert specs["colour"].default == "red"
    assert specs["drop"].kind == "multi_choice" and specs["drop"].max_items == 2
    assert specs["tags"].kind == "string_list"
    assert specs["origin"].kind == "json" and specs["origin"].nullable
    assert specs["limit"].kind == "integer" and specs["limit"].minimum == 1  # exclusive 0 → at least 1


def test_a_prefect_run_input_schema_resolves() -> None:
    class Approval(RunInput):
        create_artifact: bool = Field(default=False, title="Approve")

    (spec,) = resolve_field_specs(Approval.model_json_schema())
    assert (spec.name, spec.kind, spec.title, spec.default) == ("create_artifact", "boolean", "Approve", False)


def test_good_answers_are_coerced() -> None:
    clean = coerce_and_validate(SCHEMA, {
        "count": "5", "ratio": "0.25", "nickname": "", "approve": "true", "mode": "careful", "colour": "blue",
        "drop": ["email"], "tags": "a\nb\n", "origin": {"x": 1, "y": 2}, "limit": None,
    })
    assert clean == {"count": 5, "ratio": 0.25, "nickname": None, "approve": True, "mode": "careful",
                     "colour": "blue", "drop": ["email"], "tags": ["a", "b"], "origin": {"x": 1, "y": 2},
                     "limit": None}


@pytest.mark.parametrize(
    ("bad", "reason"),
    [(0, "must be at least 1"), (-1, "must be at least 1"), (10**9, "must be at most 5000"),
     ("abc", "must be a whole number"), (2.5, "must be a whole number"), ("", "is required"),
     (None, "is required"), (True, "must be a whole number"), (float("nan"), "must be a whole number")],
)
def test_bad_user_counts_get_a_clear_message(bad: object, reason: str) -> None:
    with pytest.raises(InputInvalid, match=f"Number of users {reason}"):
        coerce_and_validate(SCHEMA, {"count": bad})


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InputInvalid) as caught:
        coerce_and_validate(SCHEMA, {"count": 0, "mode": "reckless", "drop": ["email", "email"], "extra": 1})
    messages = [error.message for error in caught.value.errors]
    assert "Unknown field 'extra'." in messages
    with pytest.raises(InputInvalid) as caught:
        coerce_and_validate(SCHEMA, {"count": 0, "mode": "reckless", "drop": ["email", "phone", "nat"]})
    text = str(caught.value)
    assert "Number of users must be at least 1" in text
    assert "'reckless' is not one of the allowed values: fast, careful" in text
    assert "choose at most 2 (got 3)" in text


def test_required_field_without_default_is_reported() -> None:
    with pytest.raises(InputInvalid, match="X is required"):
        coerce_and_validate(Point.model_json_schema(), {"y": 1})


def test_oversized_and_deeply_nested_answers_are_refused_before_anything_else() -> None:
    from pipelines.core.schema_input import MAX_INPUT_DEPTH

    schema = {"type": "object", "properties": {"note": {"type": "string", "title": "Note"}}}
    with pytest.raises(InputInvalid, match="KiB; a pause takes at most 256 KiB"):
        coerce_and_validate(schema, {"note": "x" * 5_000_000})
    nested: list = []
    for _ in range(100_000):  # deeper than json or Python's recursion could take
        nested = [nested]
    with pytest.raises(InputInvalid, match=f"more than {MAX_INPUT_DEPTH} deep"):
        coerce_and_validate(schema, {"note": nested})
    assert coerce_and_validate(schema, {"note": "x" * 1000}) == {"note": "x" * 1000}
