"""Render a pause's JSON schema as a Streamlit form and return validated values on submit."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

import streamlit as st

from pipelines.core.markdown import escape_markdown
from pipelines.core.schema_input import FieldSpec, InputInvalid, coerce_and_validate, resolve_field_specs

_NONE = "—"


def _help(spec: FieldSpec) -> str | None:
    bounds = []
    if spec.minimum is not None:
        bounds.append(f"at least {spec.minimum:g}")
    if spec.maximum is not None:
        bounds.append(f"at most {spec.maximum:g}")
    if spec.max_items is not None:
        bounds.append(f"at most {spec.max_items} choices")
    text = " ".join(filter(None, [spec.description, f"({', '.join(bounds)})" if bounds else ""]))
    return text or None


def _value(spec: FieldSpec, raw: Any) -> Any:
    """What a widget's raw value means for its field: the empty choice is None, JSON text is parsed."""
    if spec.kind == "choice":
        return None if raw == _NONE else raw
    if spec.kind == "json":
        try:
            return json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError:
            return raw  # validation reports it against the schema's type
    return raw


def _widget(spec: FieldSpec, key: str) -> Any:
    """One input widget for a field. Numbers are typed as text on purpose: a number widget silently puts its
    last value back when the text is no number ("abc" became 2) and clamps out-of-range values, while
    validation refuses both and tells the person what was wrong."""
    label, help_text, default = spec.title, _help(spec), spec.default
    if spec.kind in ("integer", "number"):
        value = f"{default:g}" if isinstance(default, (int, float)) and not isinstance(default, bool) else ""
        return st.text_input(label, value=value, key=key, help=help_text)
    if spec.kind == "boolean":
        return st.checkbox(label, value=bool(default), key=key, help=help_text)
    if spec.kind == "choice":
        options = ([_NONE] if spec.nullable else []) + list(spec.choices or ())
        index = options.index(default) if default in options else 0
        return _value(spec, st.selectbox(label, options, index=index, key=key, help=help_text))
    if spec.kind == "multi_choice":
        return st.multiselect(label, list(spec.choices or ()), default=default or [], key=key, help=help_text)
    if spec.kind == "string_list":
        return st.text_area(label, value="\n".join(default or []), key=key, help=f"One per line. {help_text or ''}")
    if spec.kind == "json":
        text = st.text_area(label, value=json.dumps(default, indent=2) if spec.has_default else "", key=key,
                            help=f"JSON. {help_text or ''}")
        return _value(spec, text)
    return st.text_input(label, value=default or "", key=key, help=help_text)


def render_pause_form(
    schema: dict[str, Any],
    *,
    key: str,
    description: str | None = None,
    submit_label: str = "Resume run",
    hidden: Collection[str] = (),
    on_submit: Callable[[dict[str, Any]], object] | None = None,
) -> dict[str, Any] | None:
    """Show the description and a form for `schema`; return validated values when submitted, else None.

    Fields named in `hidden` are left out of the form (the caller fills them, e.g. the analyst's name).
    Invalid input shows every problem in one error and returns None, so the caller does not resume.
    With `on_submit`, a submit calls it with the form's values (not yet validated) before the page is drawn
    again, and this returns None: the callback acts on what it was bound to when the form was drawn.
    """
    if description:
        st.markdown(description)
    specs = [spec for spec in resolve_field_specs(schema) if spec.name not in hidden]
    callback = {} if on_submit is None else {"on_click": _submit, "args": (on_submit, specs, key)}
    with st.form(key=key):
        values = {spec.name: _widget(spec, f"{key}.{spec.name}") for spec in specs}
        submitted = st.form_submit_button(submit_label, type="primary", **callback)
    if not submitted or on_submit is not None:
        return None
    try:
        return coerce_and_validate(schema, values)
    except InputInvalid as exc:
        st.error("\n".join(f"- {escape_markdown(error.message)}" for error in exc.errors))
        return None


def _submit(on_submit: Callable[[dict[str, Any]], object], specs: list[FieldSpec], key: str) -> None:
    """A submit's callback: the form's values, as the widgets hold them, go to `on_submit`."""
    on_submit({spec.name: _value(spec, st.session_state.get(f"{key}.{spec.name}")) for spec in specs})
