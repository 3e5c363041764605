"""Render a pause's JSON schema as a Streamlit form whose submit hands the typed values to the resume."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

import streamlit as st

from pipelines.core.schema_input import FieldSpec, resolve_field_specs

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


def _widget(spec: FieldSpec, key: str) -> None:
    """Draw one input widget for a field (its value is read at the submit). Numbers are typed as text on purpose:
    a number widget silently puts its last value back when the text is no number ("abc" became 2) and clamps
    out-of-range values, while validation refuses both and tells the person what was wrong."""
    label, help_text, default = spec.title, _help(spec), spec.default
    if spec.kind in ("integer", "number"):
        value = f"{default:g}" if isinstance(default, (int, float)) and not isinstance(default, bool) else ""
        st.text_input(label, value=value, key=key, help=help_text)
    elif spec.kind == "boolean":
        st.checkbox(label, value=bool(default), key=key, help=help_text)
    elif spec.kind == "choice":
        options = ([_NONE] if spec.nullable else []) + list(spec.choices or ())
        index = options.index(default) if default in options else 0
        st.selectbox(label, options, index=index, key=key, help=help_text)
    elif spec.kind == "multi_choice":
        st.multiselect(label, list(spec.choices or ()), default=default or [], key=key, help=help_text)
    elif spec.kind == "string_list":
        st.text_area(label, value="\n".join(default or []), key=key, help=f"One per line. {help_text or ''}")
    elif spec.kind == "json":
        st.text_area(label, value=json.dumps(default, indent=2) if spec.has_default else "", key=key,
                     help=f"JSON. {help_text or ''}")
    else:
        st.text_input(label, value=default or "", key=key, help=help_text)


def render_pause_form(
    schema: dict[str, Any],
    *,
    key: str,
    on_submit: Callable[[dict[str, Any]], object],
    description: str | None = None,
    submit_label: str = "Resume run",
    hidden: Collection[str] = (),
) -> None:
    """Show the description and a form for `schema`; a submit calls `on_submit` with the form's values.

    Fields named in `hidden` are left out of the form (the caller fills them, e.g. the analyst's name).
    The values go to `on_submit` as the widgets hold them, not yet validated: the resume validates them once,
    against the pause the form was drawn for, and shows what is wrong (`resume_or_explain`). The callback runs
    before the page is drawn again, so it acts on what it was bound to when the form was drawn.
    """
    if description:
        st.markdown(description)
    specs = [spec for spec in resolve_field_specs(schema) if spec.name not in hidden]
    with st.form(key=key):
        for spec in specs:
            _widget(spec, f"{key}.{spec.name}")
        st.form_submit_button(submit_label, type="primary", on_click=_submit, args=(on_submit, specs, key))


def _submit(on_submit: Callable[[dict[str, Any]], object], specs: list[FieldSpec], key: str) -> None:
    """A submit's callback: the form's values, as the widgets hold them, go to `on_submit`."""
    on_submit({spec.name: _value(spec, st.session_state.get(f"{key}.{spec.name}")) for spec in specs})
