"""Building typed dataclasses from parsed YAML: unknown keys (with a "did you mean"),
missing keys, and values checked against the annotations, each refused with a
`SweepError` that names the dotted key."""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import reprlib
import types
import typing
from typing import Any, Literal, Union

from .errors import SweepError


def field_type(schema: Any, name: str) -> Any:
    if dataclasses.is_dataclass(schema):
        return typing.get_type_hints(schema)[name]
    if typing.get_origin(schema) is dict:
        return typing.get_args(schema)[1]  # a name inside a mapping such as `styles`: its value's type
    return None


def yaml_keys(schema: Any) -> list[str]:
    """The keys a dataclass takes in YAML: its fields, or its own `YAML_KEYS` (artist.Artist)."""
    return list(getattr(schema, "YAML_KEYS", None) or [f.name for f in dataclasses.fields(schema)])


def check_key(schema: Any, name: str, where: str) -> None:
    if not dataclasses.is_dataclass(schema):
        return
    names = yaml_keys(schema)
    if name not in names:
        raise SweepError(unknown_key_message(name, names, where))


def unknown_key_message(name: str, allowed: list[str], where: str) -> str:
    full = f"{where}.{name}" if where else name
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown config key '{full}'{hint} (allowed: {', '.join(allowed)})"


def build(cls: Any, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise SweepError(f"'{where or 'config'}' must be a mapping, got {describe(data)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise SweepError(unknown_key_message(str(key), names, where))
    values = {}
    for f in dataclasses.fields(cls):
        path = f"{where}.{f.name}" if where else f.name
        if f.name in data:
            values[f.name] = _coerce(hints[f.name], data[f.name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SweepError(f"missing required config key '{path}'")
    return cls(**values)


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and hasattr(tp, "from_yaml"):
        return tp.from_yaml(value, path)  # a dataclass with YAML forms of its own (artist.Artist)
    if dataclasses.is_dataclass(tp):
        return build(tp, value if value is not None else {}, path)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise SweepError(f"'{path}' must be one of {', '.join(map(str, allowed))}; got {value!r}")
        return value
    if origin in (Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _coerce(option, value, path)
            except SweepError:
                continue
        names = " or ".join(_type_name(o) for o in typing.get_args(tp))
        raise SweepError(f"'{path}' must be {names}; got {describe(value)}")
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise SweepError(f"'{path}' must be {_type_name(tp)}; got {describe(value)}")
        return [_coerce(item_type, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        if not isinstance(value, dict):
            raise SweepError(f"'{path}' must be a mapping; got {describe(value)}")
        return {_coerce(key_type, k, f"{path} key"): _coerce(value_type, v, f"{path}.{k}")
                for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise SweepError(f"'{path}' must be true or false; got {describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SweepError(f"'{path}' must be an integer; got {describe(value)}")
        return value
    if tp is float:
        value = number_text(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SweepError(f"'{path}' must be a number; got {describe(value)}")
        if not math.isfinite(value):
            raise SweepError(f"'{path}' must be a finite number; got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SweepError(f"'{path}' must be a string; got {describe(value)}")
        return value
    raise TypeError(f"unsupported schema type {tp!r} at {path}")


# `1e-5`, `.5e3`, `1_0e2`: YAML 1.1 (PyYAML) reads a number in exponent form without a
# dot as text; a number field takes it as the number it looks like (YAML 1.2 does).
_EXPONENT_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+")


def number_text(value: Any) -> Any:
    """`value`, or the float it spells when it is text of a number in exponent form."""
    if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
        return float(value.strip().replace("_", ""))
    return value


_PLURAL = {str: "strings", int: "integers", float: "numbers", bool: "true/false values"}


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is list:
        (item,) = typing.get_args(tp)
        if typing.get_origin(item) is Literal:
            return "a list of any of " + ", ".join(map(str, typing.get_args(item)))
        return f"a list of {_PLURAL.get(item, _type_name(item))}"
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(tp)))
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false"}.get(tp, str(tp))


def describe(value: Any) -> str:
    text = reprlib.repr(value)  # bounded: never walks a huge (aliased) structure
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
