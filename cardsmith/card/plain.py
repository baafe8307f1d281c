"""``plain_dump``: a Pydantic model as JSON-ready data, fast (cards and reports are plain data)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

_NONE_TYPE = type(None)
_PLAIN = (str, int, bool, _NONE_TYPE)


class _NotPlain(Exception):
    """A value :func:`plain_dump` does not convert itself (it falls back to ``model_dump``)."""


def _plain(value: Any, exclude_none: bool) -> Any:
    t = type(value)
    if t in _PLAIN:
        return value
    if t is float:
        return value if math.isfinite(value) else None
    if t is list or t is tuple:
        return [_plain(v, exclude_none) for v in value]
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _NotPlain
            out[k] = _plain(v, exclude_none)
        return out
    if isinstance(value, BaseModel):
        return _plain_model(value, exclude_none)
    raise _NotPlain


def _plain_model(model: BaseModel, exclude_none: bool) -> dict[str, Any]:
    if not _is_plain_class(type(model)):
        raise _NotPlain
    out: dict[str, Any] = {}
    values = model.__dict__
    for name in type(model).__pydantic_fields__:
        v = values[name]
        if v is None and exclude_none:
            continue
        out[name] = _plain(v, exclude_none)
    extra = model.__pydantic_extra__
    if extra:
        for name, v in extra.items():
            if v is None and exclude_none:
                continue
            out[name] = _plain(v, exclude_none)
    return out


def plain_dump(model: BaseModel, *, exclude_none: bool = False) -> dict[str, Any]:
    """``model.model_dump(mode="json", exclude_none=...)``, without building pydantic's serializer.

    Handles the plain data cards and reports hold (strings, numbers, lists, dicts with string
    keys, nested models) in pure Python; anything else (bytes, sets, dates, custom serializers)
    falls back to ``model_dump``, so the result is always the same.
    """
    try:
        return _plain_model(model, exclude_none)
    except (_NotPlain, KeyError, AttributeError):
        return model.model_dump(mode="json", exclude_none=exclude_none)


_PLAIN_CLASSES: dict[type, bool] = {}


def _is_plain_class(cls: type[BaseModel]) -> bool:
    """No serializers, computed fields or aliases: ``model_dump`` is the fields (then the extras) as they are."""
    known = _PLAIN_CLASSES.get(cls)
    if known is None:
        dec = cls.__pydantic_decorators__
        known = not (dec.field_serializers or dec.model_serializers or dec.computed_fields) and all(
            f.alias is None and f.serialization_alias is None and f.exclude is None
            for f in cls.__pydantic_fields__.values()
        )
        _PLAIN_CLASSES[cls] = known
    return known
