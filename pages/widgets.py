"""Widgets bound to scenario field paths.

Each widget's range, unit and help come from the scenario model (`field_spec`); its value is set
from the scenario before it is drawn, and its on_change callback writes back through
`state.change`, so the scenario is the one source of truth. Fractions are shown as percentages.
The help says whether the value is the template's (with its source) or was changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from lib import views, words
from lib.scenario import FieldSpec, field_spec
from pages import state

CHANGED_MARK = " ✎"
PERCENT_UNITS = {"fraction": "%", "fraction a year": "% a year"}


def _is_percent(spec: FieldSpec) -> bool:
    return spec.unit in PERCENT_UNITS


def _shown(spec: FieldSpec, value: Any) -> Any:
    """Model value -> widget value."""
    return round((value or 0.0) * 100, 4) if _is_percent(spec) else value


def _model(spec: FieldSpec, value: Any) -> Any:
    """Widget value -> model value."""
    return round(float(value) / 100, 6) if _is_percent(spec) else value


def _fmt(spec: FieldSpec) -> Callable[[Any], str]:
    return (lambda v: words.pct(v, 1)) if _is_percent(spec) else str


def _range_note(spec: FieldSpec) -> str:
    if spec.low is None:
        return ""
    low, high = _shown(spec, spec.low), _shown(spec, spec.high)
    unit = PERCENT_UNITS.get(spec.unit, spec.unit)
    return f"Allowed: {low:,g} to {high:,g} {unit}.".replace(" %", "%")


def _described(spec: FieldSpec, path: str, label: str) -> tuple[str, str]:
    """(label, help): the label with its unit, marked when the value is no longer the template's;
    the help with the field's meaning, its range and where its value comes from."""
    scenario = state.current_scenario()
    ref = state.template(scenario.template)
    value, source = views.template_value(ref.scenario, ref.sources, path)
    current = scenario.get(path)
    unit = "%" if _is_percent(spec) else (spec.unit if spec.unit.startswith("£") else "")
    text = f"{label} ({unit})" if unit and unit not in label else label
    note = views.source_note(current, value, source, _fmt(spec))
    words = "\n\n".join(f"**{term}**: {meaning}" for term, meaning in state.reference().terms_for(path))
    help = "\n\n".join(x for x in (spec.help, words, _range_note(spec), note) if x)
    return (text + CHANGED_MARK if current != value else text), help


def bind(key: str, shown: Any) -> None:
    """Set a widget's state to the scenario's value before it is drawn."""
    if st.session_state.get(key) != shown:
        st.session_state[key] = shown


def _write_back(key: str, paths: tuple[str, ...], convert: Callable[[Any], Any]) -> None:
    value = st.session_state[key]
    values = value if len(paths) > 1 else (value,)
    state.change({p: convert(v) for p, v in zip(paths, values, strict=True)})


def _draw(widget: Callable, path: str, label: str | None, prefix: str, convert=None, shown=None, **options: Any) -> Any:
    spec = field_spec(path)
    label = label or spec.label  # the field's one label, declared with its range in lib/scenario.py
    key = f"{prefix}:{path}"
    current = state.current_scenario().get(path)
    value = shown(current) if shown else _shown(spec, current)
    bind(key, value)
    if widget is st.slider:  # given its value, a slider need not search the session state for it
        options["value"] = value
    label, help = _described(spec, path, label)
    return widget(
        label,
        key=key,
        help=help,
        on_change=_write_back,
        args=(key, (path,), convert or (lambda v: _model(spec, v))),
        **options,
    )


def slider(path: str, label: str | None = None, *, prefix: str, step: float | None = None) -> None:
    """A slider over the field's whole range (fractions in %)."""
    spec = field_spec(path)
    integer = spec.integer
    kind = int if integer else float
    step = step if step is not None else (1 if integer else 0.5)
    _draw(
        st.slider,
        path,
        label,
        prefix,
        min_value=kind(_shown(spec, spec.low)),
        max_value=kind(_shown(spec, spec.high)),
        step=kind(step),
        format="%d" if integer else ("%.1f%%" if _is_percent(spec) else "%.1f"),
    )


def number(path: str, label: str | None = None, *, prefix: str, step: float = 1.0, fmt: str = "%.1f") -> None:
    spec = field_spec(path)
    integer = spec.integer
    kind = int if integer else float
    _draw(
        st.number_input,
        path,
        label,
        prefix,
        convert=kind,
        shown=kind,
        min_value=kind(spec.low),
        max_value=kind(spec.high),
        step=kind(step),
        format="%d" if integer else fmt,
    )


def optional(
    path: str, label: str | None = None, *, prefix: str, default: float, step: float = 0.5, as_number: bool = False
) -> None:
    """A limit that may be switched off (null): a checkbox, and the value when it is on."""
    spec = field_spec(path)
    label = label or spec.label
    on_key = f"{prefix}:{path}:on"
    value = state.current_scenario().get(path)
    bind(on_key, value is not None)
    st.checkbox(
        f"Set a {label.lower()}",
        key=on_key,
        help=_described(spec, path, label)[1],
        on_change=lambda: state.change({path: default if st.session_state[on_key] else None}),
    )
    if value is not None:
        (number if as_number else slider)(path, label, prefix=prefix, step=step)


def interval(low_path: str, high_path: str, label: str, *, prefix: str, step: float = 0.5) -> None:
    """An 80% interval (low, high) as one two-handled slider."""
    spec = field_spec(low_path)
    key = f"{prefix}:{low_path}:{high_path}"
    scenario = state.current_scenario()
    value = (_shown(spec, scenario.get(low_path)), _shown(spec, scenario.get(high_path)))
    bind(key, value)
    label, help = _described(spec, low_path, label)
    st.slider(
        label,
        value=value,
        min_value=float(_shown(spec, spec.low)),
        max_value=float(_shown(spec, spec.high)),
        step=float(step),
        format="%.1f%%" if _is_percent(spec) else "%.1f",
        key=key,
        help=help,
        on_change=_write_back,
        args=(key, (low_path, high_path), lambda v: _model(spec, v)),
    )


def choice(
    path: str,
    label: str | None,
    names: dict[Any, str],
    *,
    prefix: str,
    options: Sequence[Any] | None = None,
    widget: Callable = st.selectbox,
) -> None:
    """One of the field's choices (or of `options`), shown by name."""
    spec = field_spec(path)
    _draw(
        widget,
        path,
        label,
        prefix,
        convert=lambda v: v,
        shown=lambda v: v,
        options=list(options if options is not None else spec.choices or names),
        format_func=lambda o: names.get(o, f"{o:,}" if isinstance(o, int) else str(o)),
    )


def toggle(path: str, label: str | None = None, *, prefix: str) -> None:
    _draw(st.checkbox, path, label, prefix, convert=bool, shown=bool)


def text(path: str, label: str, *, prefix: str) -> None:
    _draw(st.text_input, path, label, prefix, convert=str, shown=str)
