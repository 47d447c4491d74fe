"""Flat entities without their pydantic schema: the stored form, and construction from values
already in the form validation would give them.

Building a model's validator or serializer is the dearest step of a short command (the core
schema, then pydantic's plugin lookup, which scans every installed package's metadata). A
cancel writes an appointment, an event and an audit entry whose values are all plain: strings,
enums, UTC instants, JSON data. For those, this module does by hand exactly what pydantic
would, and answers None whenever it is not sure (a field of another kind, a value of an
unexpected type, a string validation would change), so the caller falls back to pydantic.
tests/unit/test_plain_forms.py proves both equal to pydantic's own on generated values.

It reads a model through pydantic's public API only (`model_fields`, their annotations and
metadata, `model_computed_fields`, `model_config`). Validator and serializer methods
(`@field_validator`, `@model_serializer`, ...) are not visible there: a stored form is made
only for rxdesk's entities, which declare no serializer methods, and a model is built from
plain values only when it declares that it has no validator methods either
(`models.PlainEntity`); the tests hold both to pydantic's own results.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, PlainSerializer

from rxdesk.domain.times import format_utc

_NO: Any = object()  # "not sure": let pydantic do it

# The validators that make an instant (`models.UtcDateTime`): one that leaves a UTC instant in
# whole seconds as it is. Registered by the models, which this module must not import.
INSTANT_COERCIONS: set[Callable[[Any], Any]] = set()

# How one field's value becomes its stored form (or _NO), and whether a value is already as
# validation would leave it.
Dump = Callable[[Any], Any]
Check = Callable[[Any], bool]


class _Field(typing.NamedTuple):
    name: str
    dump: Dump
    check: Check | None  # None: validation may change this field's value (a validator, a limit)
    optional: bool


def _plain_json(value: Any) -> Any:
    """A copy of a JSON value of exactly these types, or _NO (floats, enums, tuples, ... are
    left to pydantic)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                return _NO
            item = _plain_json(item)
            if item is _NO:
                return _NO
            out[key] = item
        return out
    if kind is list:
        items = [_plain_json(item) for item in value]
        return _NO if any(item is _NO for item in items) else items
    return _NO


def _stripped(value: Any) -> bool:
    return type(value) is str and value == value.strip()


def _is_time(value: Any) -> bool:
    return type(value) is datetime and value.tzinfo is UTC and value.microsecond == 0


def _dump_time(value: Any) -> Any:
    return format_utc(value) if type(value) is datetime and value.tzinfo is not None else _NO


def _dump_str(value: Any) -> Any:
    return value if type(value) is str else _NO


def _json_object(value: Any) -> bool:
    return type(value) is dict and all(_stripped(key) for key in value) and _plain_json(value) is not _NO


def _dump_json_object(value: Any) -> Any:
    return _plain_json(value) if type(value) is dict else _NO


def _enum_field(cls: type[Enum]) -> tuple[Dump, Check]:
    def dump(value: Any) -> Any:
        return value.value if type(value) is cls else _NO

    return dump, lambda value: type(value) is cls


def _field(name: str, annotation: Any, metadata: list[Any]) -> _Field | None:
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if len(args) != 2 or type(None) not in args:
            return None
        optional = True
        annotation = next(a for a in args if a is not type(None))
        if typing.get_origin(annotation) is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata = [*metadata, *extra]
    serializers = [m for m in metadata if isinstance(m, PlainSerializer)]
    if annotation is datetime:
        if len(serializers) != 1 or serializers[0].func is not format_utc:
            return None
        validators = [m for m in metadata if m is not serializers[0]]
        known = len(validators) == 1 and getattr(validators[0], "func", None) in INSTANT_COERCIONS
        return _Field(name, _dump_time, _is_time if known else None, optional)
    if serializers:
        return None
    if annotation is str:
        return _Field(name, _dump_str, None if metadata else _stripped, optional)
    if isinstance(annotation, type) and issubclass(annotation, Enum) and issubclass(annotation, str):
        dump, check = _enum_field(annotation)
        return _Field(name, dump, None if metadata else check, optional)
    if annotation == dict[str, Any]:
        return _Field(name, _dump_json_object, None if metadata else _json_object, optional)
    return None


_PLANS: dict[type[BaseModel], tuple[_Field, ...] | None] = {}


def _plan(model: type[BaseModel]) -> tuple[_Field, ...] | None:
    """The model's fields, when every one is of a kind this module handles; else None."""
    try:
        return _PLANS[model]
    except KeyError:
        pass
    plan: tuple[_Field, ...] | None = None
    config = model.model_config
    if not (model.model_computed_fields or config.get("extra") != "forbid" or config.get("serialize_by_alias")):
        fields = []
        for name, info in model.model_fields.items():
            made = None if info.exclude else _field(name, info.annotation, list(info.metadata))
            if made is None:
                break
            fields.append(made)
        else:
            plan = tuple(fields)
    _PLANS[model] = plan
    return plan


def stored_form(item: BaseModel) -> dict[str, Any] | None:
    """`item.model_dump(mode="json")` for a flat model, or None when pydantic must do it."""
    plan = _plan(type(item))
    if plan is None:
        return None
    values = item.__dict__
    out: dict[str, Any] = {}
    for field in plan:
        value = values.get(field.name, _NO)
        if value is None and field.optional:
            out[field.name] = None
            continue
        value = field.dump(value)
        if value is _NO:
            return None
        out[field.name] = value
    return out


def construct_plain(model: type[BaseModel], values: Mapping[str, Any]) -> Any:
    """`model(**values)` without validation when validation could neither refuse nor change
    any value (no validators on its fields beyond the instants', every value already in its
    validated form), or None. Only for a model without validator methods (`PlainEntity`)."""
    plan = _plan(model)
    if plan is None:
        return None
    known = {field.name for field in plan}
    if not known.issuperset(values):
        return None
    for field in plan:
        if field.name not in values:
            if model.model_fields[field.name].is_required():
                return None
            continue
        value = values[field.name]
        if value is None and field.optional:
            continue
        if field.check is None or not field.check(value):
            return None
    copied = {name: dict(value) if type(value) is dict else value for name, value in values.items()}
    return model.model_construct(None, **copied)
