"""Engines run the items of a bulk run; one interface, the same lines whichever runs them.

``engine.run(items, settings, fn=run_item, prepare=preload, chunk=1)`` yields one
:class:`~cardsmith.bulk.items.Result` per item, in the order they finish. ``fn(item, settings)`` runs in a worker (a process of the local
pool, or a Ray task); an item whose worker dies, runs past ``item_timeout`` or runs out of memory gets
:func:`~cardsmith.bulk.items.failure` with the reason, and the run goes on. Items are pulled from the
iterator only as workers free up, so a source of any size streams through in bounded memory.

- ``local`` (:class:`~cardsmith.bulk.engines.local.LocalEngine`): a process pool on this machine.
- ``ray`` (:class:`~cardsmith.bulk.engines.ray_engine.RayEngine`): Ray tasks on a cluster (``cardsmith[scale]``).
"""

from __future__ import annotations

from typing import Any

from cardsmith.bulk.engines.base import Engine, EngineError, Feeder, ItemFunction, Prepare
from cardsmith.errors import ConfigError

__all__ = ["ENGINES", "Engine", "EngineError", "Feeder", "ItemFunction", "Prepare", "make_engine"]

ENGINES = ("local", "ray")


def make_engine(
    name: str,
    *,
    workers: int | None = None,
    item_timeout: float | None = None,
    address: str | None = None,
    gpus_per_item: float | None = None,
) -> Any:
    """The engine called ``name`` (``local`` or ``ray``)."""
    if name == "local":
        if address is not None:
            raise ConfigError("--address names a Ray cluster: add --engine ray")
        from cardsmith.bulk.engines.local import LocalEngine

        return LocalEngine(workers=workers, item_timeout=item_timeout)
    if name == "ray":
        from cardsmith.bulk.engines.ray_engine import RayEngine

        return RayEngine(
            address=address, workers=workers, item_timeout=item_timeout, gpus_per_item=gpus_per_item
        )
    raise ConfigError(f"unknown engine {name!r} (one of: {', '.join(ENGINES)})")
