"""What every engine shares: the item function type, the engine protocol, the feeder of chunks.

An engine is a generic executor: it runs the item function it is given (``fn(item, settings)``) over
the items, with crash and timeout isolation; which function that is (:func:`cardsmith.bulk.run.run_item`)
is the caller's choice."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Protocol

from cardsmith.bulk.items import Item, Result, Settings
from cardsmith.errors import EngineError

__all__ = ["Engine", "EngineError", "Feeder", "ItemFunction", "Prepare"]

ItemFunction = Callable[[Item, Settings], Result]
#: Run once in each worker before its first item (not counted against ``item_timeout``).
Prepare = Callable[[Settings], None]


class Engine(Protocol):
    name: str
    workers: int

    def run(
        self,
        items: Iterable[Item],
        settings: Settings,
        *,
        fn: ItemFunction,
        prepare: Prepare | None = None,
        chunk: int = 1,
    ) -> Iterator[Result]: ...

    def close(self) -> None: ...


class Feeder:
    """Hands out lists of up to ``size`` items, pulled from the source only when asked.

    Items put back with :meth:`requeue` (the rest of a chunk whose worker died) come first, one at a
    time, so that an item that kills its worker again is isolated and reported alone.
    """

    def __init__(self, items: Iterable[Item], size: int = 1) -> None:
        self._items = iter(items)
        self.size = max(1, size)
        self._requeued: deque[Item] = deque()
        self.exhausted = False

    def requeue(self, items: Iterable[Item]) -> None:
        self._requeued.extend(items)

    def next(self) -> list[Item] | None:
        if self._requeued:
            return [self._requeued.popleft()]
        if self.exhausted:
            return None
        batch = list(islice(self._items, self.size))
        if len(batch) < self.size:
            self.exhausted = True
        return batch or None
