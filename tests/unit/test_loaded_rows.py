"""The loaded-rows bookkeeping of the virtual table, without a screen: whole blocks kept, keys
found where their rows are, changed rows counted, the oldest blocks let go."""

from __future__ import annotations

from typing import Any

from rxdesk.tui.widgets.rows import BLOCK, KEPT_BLOCKS, ListSource, LoadedRows, blocks_of, runs


def keyed(n: int) -> str:
    return f"row-{n}"


def test_only_whole_blocks_are_kept_so_a_kept_block_never_misses_a_row() -> None:
    rows = LoadedRows(keyed, total=3 * BLOCK)
    rows.store(10, list(range(10, 2 * BLOCK + 5)))  # starts mid-block, ends mid-block
    assert rows.row_at(10) is None  # the first, partial block is fetched again
    assert rows.row_at(BLOCK) == BLOCK and rows.row_at(2 * BLOCK - 1) == 2 * BLOCK - 1
    assert rows.row_at(2 * BLOCK) is None  # a short block that is not the end of the list
    assert rows.missing(blocks_of(0, 3 * BLOCK - 1)) == [0, 2]


def test_the_short_last_block_is_the_end_of_the_list() -> None:
    rows = LoadedRows(keyed, total=BLOCK + 3)
    rows.store(BLOCK, [BLOCK, BLOCK + 1, BLOCK + 2])
    assert rows.row_at(BLOCK + 2) == BLOCK + 2
    assert rows.row_at(BLOCK + 3) is None  # past the end
    assert rows.loaded() == [BLOCK, BLOCK + 1, BLOCK + 2]


def test_a_key_names_its_row_until_the_row_is_replaced_by_another() -> None:
    rows = LoadedRows(keyed, total=BLOCK)
    rows.store(0, list(range(BLOCK)))
    assert rows.index_of("row-7") == 7
    rows.store(0, [n + 1000 for n in range(BLOCK)])  # the same block fetched again, other rows
    assert rows.index_of("row-7") is None
    assert rows.index_of("row-1007") == 7


def test_a_row_changed_in_place_has_a_new_version_and_an_unloaded_one_is_not_changed() -> None:
    rows: LoadedRows[dict[str, Any]] = LoadedRows(lambda r: r["key"], total=2)
    rows.store(0, [{"key": "a", "v": 1}, {"key": "b", "v": 1}])
    assert rows.version("a") == 0
    assert rows.replace("a", {"key": "a", "v": 2}) == 0
    assert rows.row_at(0) == {"key": "a", "v": 2} and rows.version("a") == 1
    assert rows.replace("zz", {"key": "zz"}) is None


def test_blocks_asked_for_are_not_asked_for_twice() -> None:
    rows = LoadedRows(keyed, total=10 * BLOCK)
    wanted = blocks_of(BLOCK, 4 * BLOCK)
    assert list(wanted) == [1, 2, 3, 4]
    rows.pending |= {2, 3}
    assert rows.missing(wanted) == [1, 4]
    assert runs([4, 1, 2, 7, 8, 9]) == [[1, 2], [4], [7, 8, 9]]


def test_the_least_recently_used_blocks_go_past_the_limit() -> None:
    total = (KEPT_BLOCKS + 2) * BLOCK
    rows = LoadedRows(keyed, total=total)
    for number in range(KEPT_BLOCKS + 2):
        rows.store(number * BLOCK, list(range(number * BLOCK, (number + 1) * BLOCK)))
    assert not rows.has_block(0) and not rows.has_block(1)
    assert rows.has_block(KEPT_BLOCKS + 1)
    assert rows.index_of("row-0") is None  # its block is gone: the key is forgotten too


def test_a_list_in_memory_is_a_source_that_counts() -> None:
    source = ListSource(["a", "b", "c"], key=str.upper)
    window = source.fetch(1, 5, count=False)
    assert (window.offset, list(window.rows), window.total) == (1, ["b", "c"], 3)
    assert source.key("b") == "B"
