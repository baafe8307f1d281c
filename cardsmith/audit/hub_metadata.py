"""Is a card's metadata valid for huggingface_hub and the Hub? Asked of huggingface_hub itself.

``model-index`` is parsed with ``huggingface_hub.repocard_data.model_index_to_eval_results`` and the
whole front matter is loaded into ``huggingface_hub.ModelCardData`` (what ``ModelCard.load`` does, so
a card that passes here loads there); the keys the Hub reads (``license``, ``datasets``,
``base_model``, ``pipeline_tag``, ``language``) are checked against the types ``ModelCardData``
declares for them. huggingface_hub is imported on first use only (``repocard_data`` does not pull in
its network client).

Importing it costs about as much as the rest of an audit's start-up, so the metadata of the common,
plainly well-formed shape (:func:`plainly_valid`: every Hub key a string or list of strings where
``ModelCardData`` declares so, every model-index result with the keys the parser reads) is passed
without asking; anything else is decided by huggingface_hub. A test checks on every corpus and fixture
card that what :func:`plainly_valid` passes, huggingface_hub accepts.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any

#: The metadata keys the Hub reads, checked against ``ModelCardData``'s declared types.
HUB_KEYS = ("license", "datasets", "base_model", "pipeline_tag", "language")


@functools.cache
def _declared_types() -> dict[str, Any]:
    from huggingface_hub.repocard_data import ModelCardData

    hints = typing.get_type_hints(ModelCardData.__init__)
    return {key: hints[key] for key in HUB_KEYS if key in hints}


def _fits(value: Any, hint: Any) -> bool:
    """``value`` matches a type hint such as ``str | list[str] | None``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (inner,) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and all(_fits(v, inner) for v in value)
    if hint is Any:
        return True
    if isinstance(hint, type):
        return isinstance(value, hint) and not (hint is not bool and isinstance(value, bool))
    return True


def _describe(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("NoneType", "None")


def _what(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]!r}" if exc.args else "a required key is missing"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def model_index_problems(model_index: Any) -> list[str]:
    """What huggingface_hub's model-index parser rejects, one message per entry/result."""
    from huggingface_hub.repocard_data import model_index_to_eval_results

    if not model_index:
        return []  # huggingface_hub skips an empty model-index (empty-model-index reports it)
    if not isinstance(model_index, list):
        return [f"`model-index` is {_what(model_index)}; huggingface_hub expects a list of entries"]
    problems: list[str] = []
    for i, entry in enumerate(model_index):
        where = f"model-index[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} is {_what(entry)}; huggingface_hub expects a mapping (name, results)")
            continue
        results = entry.get("results")
        pieces = (
            [(f"{where}.results[{j}]", r) for j, r in enumerate(results)]
            if isinstance(results, list) and results
            else [(where, None)]
        )
        for at, result in pieces:
            probe = dict(entry)
            if result is not None:
                probe["results"] = [result]
            try:
                model_index_to_eval_results([probe])
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                problems.append(f"{at}: {_reason(exc)} (huggingface_hub cannot parse it)")
    return problems


#: Keys whose value ``ModelCardData`` declares as ``str | None`` (the other Hub keys also take a list).
_STRING_KEYS = ("license", "pipeline_tag")


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _plain_result(result: Any) -> bool:
    if not isinstance(result, dict):
        return False
    task, dataset, metrics, source = (result.get(k) for k in ("task", "dataset", "metrics", "source"))
    if not (isinstance(task, dict) and "type" in task and isinstance(dataset, dict)):
        return False
    if not ("type" in dataset and "name" in dataset and isinstance(metrics, list)):
        return False
    if source and not (isinstance(source, dict) and source.get("url") is not None):
        return False
    return all(isinstance(m, dict) and "type" in m and "value" in m for m in metrics)


def plainly_valid(data: dict[str, Any]) -> bool:
    """True for metadata that huggingface_hub certainly accepts (a strict subset of what it accepts)."""
    for key in HUB_KEYS:
        value = data.get(key)
        if value is None or isinstance(value, str):
            continue
        if key in _STRING_KEYS or not _is_str_list(value):
            return False
    index = data.get("model-index")
    if not index:
        return True
    if not isinstance(index, list):
        return False
    for entry in index:
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"]):
            return False
        results = entry.get("results")
        if not (isinstance(results, list) and all(_plain_result(r) for r in results)):
            return False
    return True


def hub_metadata_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``(key, message)`` for every way the front matter ``data`` is invalid for huggingface_hub."""
    return [] if plainly_valid(data) else asked_problems(data)


def asked_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """:func:`hub_metadata_problems` without the fast path: huggingface_hub is asked every time."""
    problems: list[tuple[str, str]] = []
    declared = _declared_types()
    for key in HUB_KEYS:
        if key in data and key in declared and not _fits(data[key], declared[key]):
            message = (
                f"`{key}` is {_what(data[key])}; huggingface_hub's ModelCardData "
                f"expects {_describe(declared[key])}"
            )
            problems.append((key, message))
    index_key = "model-index" if "model-index" in data else None
    if index_key is not None:
        problems.extend((index_key, message) for message in model_index_problems(data[index_key]))
    if not problems and index_key is not None and data[index_key]:
        from huggingface_hub.repocard_data import ModelCardData

        try:  # what ModelCard.load does with the metadata: parse and validate the eval results
            ModelCardData(**{"model-index": data[index_key]})
        except Exception as exc:  # noqa: BLE001 - any rejection by huggingface_hub is the finding
            problems.append((index_key, f"huggingface_hub rejects it: {_reason(exc)}"))
    return problems
