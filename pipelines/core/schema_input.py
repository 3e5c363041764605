"""Turn a pause's JSON schema into field specs for a form, and check answers against it before resuming.

Prefect's server also validates on resume, but it answers with one terse reason; a person typing into a form
deserves every problem at once, named by the field's title, before the run is touched.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jsonschema import Draft202012Validator

# No pause asks for more than a few kilobytes; these bound what a resume (a form or a script) can make a run hold.
MAX_INPUT_BYTES = 256 * 1024
MAX_INPUT_DEPTH = 16

FieldKind = Literal["integer", "number", "string", "boolean", "choice", "multi_choice", "string_list", "json"]


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class InputInvalid(ValueError):
    """The answer does not fit the pause's schema; `.errors` has one sentence per problem."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(" ".join(error.message for error in errors))


@dataclass(frozen=True)
class FieldSpec:
    """One top-level property of a schema, in the terms a form needs."""

    name: str
    title: str
    description: str
    kind: FieldKind
    required: bool
    nullable: bool
    has_default: bool
    default: Any
    choices: tuple[Any, ...] | None
    minimum: float | None
    maximum: float | None
    max_items: int | None


def _resolve(node: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Inline `$ref` and single-entry `allOf` (pydantic's shape for enums with defaults)."""
    node = dict(node)
    while True:
        if "$ref" in node:
            target = schema
            for part in node.pop("$ref").lstrip("#/").split("/"):
                target = target[part]
            node = {**target, **node}
        elif len(node.get("allOf", [])) == 1:
            node = {**node.pop("allOf")[0], **node}
        else:
            return node


def _unwrap_nullable(node: dict[str, Any], schema: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    options = node.get("anyOf")
    if options and any(option.get("type") == "null" for option in options):
        rest = [option for option in options if option.get("type") != "null"]
        if len(rest) == 1:
            outer = {k: v for k, v in node.items() if k != "anyOf"}
            return {**_resolve(rest[0], schema), **outer}, True
    return node, False


def _kind(node: Mapping[str, Any], schema: Mapping[str, Any]) -> tuple[FieldKind, tuple[Any, ...] | None]:
    if "enum" in node:
        return "choice", tuple(node["enum"])
    if "const" in node:
        return "choice", (node["const"],)
    kind = node.get("type")
    if kind == "array":
        items = _resolve(node.get("items", {}), schema)
        if "enum" in items:
            return "multi_choice", tuple(items["enum"])
        return ("string_list", None) if items.get("type") == "string" else ("json", None)
    if kind in ("integer", "number", "string", "boolean"):
        return kind, None
    return "json", None


def _bound(node: Mapping[str, Any], kind: str, inclusive: str, exclusive: str, step: int) -> float | None:
    if inclusive in node:
        return node[inclusive]
    if exclusive in node:
        return node[exclusive] + step if kind == "integer" else node[exclusive]
    return None


def resolve_field_specs(schema: Mapping[str, Any]) -> list[FieldSpec]:
    """Describe each top-level property of a (pydantic-made) JSON schema for rendering."""
    required = set(schema.get("required", []))
    specs = []
    for name, raw in schema.get("properties", {}).items():
        node, nullable = _unwrap_nullable(_resolve(raw, schema), schema)
        kind, choices = _kind(node, schema)
        specs.append(FieldSpec(
            name=name,
            title=node.get("title") or name.replace("_", " ").capitalize(),
            description=node.get("description", ""),
            kind=kind,
            required=name in required,
            nullable=nullable,
            has_default="default" in node,
            default=node.get("default"),
            choices=choices,
            minimum=_bound(node, kind, "minimum", "exclusiveMinimum", 1),
            maximum=_bound(node, kind, "maximum", "exclusiveMaximum", -1),
            max_items=node.get("maxItems"),
        ))
    return specs


def _coerce(spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    """Coerce obvious text forms (a form or CLI gives strings); return (value, problem)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if spec.nullable:
            return None, None
        return None, f"{spec.title} is required."
    if spec.kind in ("integer", "number"):
        return _coerce_number(spec, value)
    if spec.kind == "boolean" and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "1", "false", "no", "0"):
            return lowered in ("true", "yes", "1"), None
        return value, f"{spec.title} must be true or false (got {value!r})."
    if spec.kind == "string_list" and isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()], None
    return value, None


def _coerce_number(spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    whole = spec.kind == "integer"
    wanted = "a whole number" if whole else "a number"
    if isinstance(value, bool):
        return value, f"{spec.title} must be {wanted} (got {value!r})."
    if isinstance(value, str):
        try:
            value = float(value.strip()) if not whole or "." in value or "e" in value.lower() else int(value)
        except ValueError:
            return value, f"{spec.title} must be {wanted} (got {value!r})."
    if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        return value, f"{spec.title} must be {wanted} (got {value!r})."
    if whole:
        if isinstance(value, float) and not value.is_integer():
            return value, f"{spec.title} must be a whole number (got {value!r})."
        value = int(value)
    return value, None


def _message(spec: FieldSpec | None, field: str, error: Any) -> str:
    title = spec.title if spec else field
    keyword, limit = error.validator, error.validator_value
    got = error.instance
    if keyword in ("minimum", "exclusiveMinimum"):
        return f"{title} must be at least {spec.minimum if spec else limit} (got {got!r})."
    if keyword in ("maximum", "exclusiveMaximum"):
        return f"{title} must be at most {spec.maximum if spec else limit} (got {got!r})."
    if keyword == "enum":
        allowed = ", ".join(map(str, limit))
        return f"{title}: {got!r} is not one of the allowed values: {allowed}."
    if keyword == "maxItems":
        return f"{title}: choose at most {limit} (got {len(got)})."
    if keyword == "minItems":
        return f"{title}: choose at least {limit} (got {len(got)})."
    if keyword == "uniqueItems":
        return f"{title}: each value may be chosen only once."
    if keyword in ("minLength", "maxLength"):
        return f"{title} must have {'at least' if keyword == 'minLength' else 'at most'} {limit} characters."
    return f"{title}: {error.message}."


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value`, counted without recursion (so any depth is measurable)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, Mapping | list | tuple):
            deepest = max(deepest, level)
            if level > MAX_INPUT_DEPTH:
                break
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, Mapping) else node))
    return deepest


def _check_size(values: Mapping[str, Any]) -> None:
    """Refuse an answer nested deeper than MAX_INPUT_DEPTH or larger than MAX_INPUT_BYTES as JSON."""
    if _depth(values) > MAX_INPUT_DEPTH:
        raise InputInvalid([FieldError("", f"The answer nests lists or objects more than {MAX_INPUT_DEPTH} deep; "
                                           "no pause asks for that. Nothing was sent.")])
    size = len(json.dumps(values, default=str).encode())
    if size > MAX_INPUT_BYTES:
        raise InputInvalid([FieldError("", f"The answer is {size / 1024:,.0f} KiB; a pause takes at most "
                                           f"{MAX_INPUT_BYTES // 1024} KiB. Nothing was sent.")])


def coerce_and_validate(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Coerce obvious text forms, then validate against the schema, reporting every problem.

    Raises:
        InputInvalid: one `FieldError` per problem, each a sentence naming the field by its title.
    """
    _check_size(values)
    specs = {spec.name: spec for spec in resolve_field_specs(schema)}
    errors = [FieldError(name, f"Unknown field {name!r}.") for name in values if name not in specs]
    clean: dict[str, Any] = {}
    for name, spec in specs.items():
        if name not in values:
            if spec.required and not spec.has_default:
                errors.append(FieldError(name, f"{spec.title} is required."))
            continue
        value, problem = _coerce(spec, values[name])
        if problem:
            errors.append(FieldError(name, problem))
        else:
            clean[name] = value
    if not errors:
        for error in Draft202012Validator(dict(schema)).iter_errors(clean):
            field = str(error.absolute_path[0]) if error.absolute_path else ""
            errors.append(FieldError(field, _message(specs.get(field), field, error)))
    if errors:
        raise InputInvalid(errors)
    return clean
