"""The rows a virtual table has loaded: where they come from, and which of them are here.

A `RowSource` is an ordered list read a `Window` at a time (in a thread); `ListSource` is one
already in memory. `LoadedRows` keeps what came back in whole blocks of `BLOCK` rows (the
least recently used dropped past `KEPT_BLOCKS`), knows the index of each loaded row by its key,
which blocks are on their way, and which rows changed in place since they came. It draws
nothing and knows no widget: `VirtualTable` asks it what to draw and what to fetch next.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

R = TypeVar("R")

# Rows are fetched and kept in blocks of this many; a window is one or more whole blocks.
BLOCK = 128
# Blocks of rows kept in memory (the rest are fetched again when scrolled back to).
KEPT_BLOCKS = 64


@dataclass(frozen=True)
class Window(Generic[R]):
    """Rows `offset` .. `offset + len(rows) - 1` of a source, and how many it has in all
    (None when the fetch did not count)."""

    offset: int
    rows: Sequence[R]
    total: int | None


class RowSource(Protocol[R]):
    """Where a table's rows come from: an ordered list, read a window at a time."""

    def fetch(self, offset: int, limit: int, *, count: bool) -> Window[R]:
        """Rows `offset` .. `offset + limit - 1`; runs in a thread, never on the UI's."""
        ...

    def key(self, row: R) -> str:
        """A key that names the row across fetches (the cursor and the selection follow it)."""
        ...


class ListSource(Generic[R]):
    """Rows already in memory, as a source."""

    def __init__(self, rows: Sequence[R], key: Callable[[R], str]) -> None:
        self.rows = list(rows)
        self._key = key

    def fetch(self, offset: int, limit: int, *, count: bool) -> Window[R]:
        return Window(offset, self.rows[offset:offset + limit], len(self.rows))

    def key(self, row: R) -> str:
        return self._key(row)


def blocks_of(first: int, last: int) -> range:
    """The numbers of the blocks that hold rows `first` .. `last`."""
    return range(first // BLOCK, last // BLOCK + 1)


def runs(numbers: Iterable[int]) -> list[list[int]]:
    """Block numbers grouped into runs of neighbours, in order: one fetch per run."""
    grouped: list[list[int]] = []
    for number in sorted(numbers):
        if grouped and number == grouped[-1][-1] + 1:
            grouped[-1].append(number)
        else:
            grouped.append([number])
    return grouped


class LoadedRows(Generic[R]):
    """The loaded blocks of a list of `total` rows keyed by `key`."""

    def __init__(self, key: Callable[[R], str], total: int = 0) -> None:
        self.key = key
        self.total = total
        self._blocks: OrderedDict[int, list[R]] = OrderedDict()  # the most recently used last
        self._where: dict[str, int] = {}  # key -> index, for the rows loaded
        self.pending: set[int] = set()  # blocks asked for and not back yet
        self._versions: dict[str, int] = {}  # bumped when a row changes in place

    def store(self, offset: int, rows: Sequence[R]) -> None:
        """Keep fetched rows in their blocks: whole blocks only (a block shorter than BLOCK is
        the end of the list), so a row of a kept block is never missing."""
        skip = -offset % BLOCK  # rows before the first block boundary are fetched again
        for start in range(skip, len(rows), BLOCK):
            block_rows = list(rows[start:start + BLOCK])
            base = offset + start
            if len(block_rows) < BLOCK and base + len(block_rows) < self.total:
                continue
            number = base // BLOCK
            self._blocks[number] = block_rows  # a block fetched again replaces what was there
            self._blocks.move_to_end(number)
            for i, row in enumerate(block_rows):
                self._where[self.key(row)] = base + i
        while len(self._blocks) > KEPT_BLOCKS:
            self._blocks.popitem(last=False)

    def has_block(self, number: int) -> bool:
        return number in self._blocks

    def missing(self, numbers: Iterable[int]) -> list[int]:
        """Of `numbers`, the blocks neither here nor on their way, in order."""
        return sorted(n for n in numbers if n not in self._blocks and n not in self.pending)

    def row_at(self, index: int) -> R | None:
        """The row at `index` when it is loaded."""
        if not 0 <= index < self.total:
            return None
        number = index // BLOCK
        block = self._blocks.get(number)
        if block is None:
            return None
        self._blocks.move_to_end(number)
        offset = index % BLOCK
        return block[offset] if offset < len(block) else None

    def where_followers_went(self, key: str, newer: LoadedRows[R]) -> int | None:
        """In `newer` (the list read again), where the first loaded row that followed `key`
        here and is still listed went: the row a cursor on `key` moves to when its own row
        left the list (with rows before it gone too, its old index would skip rows)."""
        at = self.index_of(key)
        if at is None:
            return None
        for index in range(at + 1, min(at + 1 + BLOCK, self.total)):
            row = self.row_at(index)
            if row is None:
                return None
            found = newer.index_of(self.key(row))
            if found is not None:
                return found
        return None

    def index_of(self, key: str) -> int | None:
        """Where the row keyed `key` is, when it is loaded (a block dropped since, or a row
        moved, is forgotten here)."""
        index = self._where.get(key)
        if index is None:
            return None
        row = self.row_at(index)
        if row is None or self.key(row) != key:
            self._where.pop(key, None)
            return None
        return index

    def replace(self, key: str, row: R) -> int | None:
        """A changed row in place of the loaded one keyed `key`; its index, or None when it is
        not loaded."""
        index = self.index_of(key)
        if index is None:
            return None
        block = self._blocks.get(index // BLOCK)
        assert block is not None
        block[index % BLOCK] = row
        self._versions[key] = self._versions.get(key, 0) + 1
        return index

    def version(self, key: str) -> int:
        """How often the row keyed `key` changed in place: a drawn line of an older version is
        stale."""
        return self._versions.get(key, 0)

    def loaded(self) -> list[R]:
        """The rows loaded, in order."""
        rows = (self.row_at(i) for i in range(self.total))
        return [row for row in rows if row is not None]
