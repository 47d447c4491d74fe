"""Each segment is a TinyDB database: TinyDB's own operations on it, a staged copy that never
reaches the committed generation, and the one JSON codec of the store."""

from __future__ import annotations

import ast
import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tinydb import Query, TinyDB
from tinydb.storages import MemoryStorage
from tinydb.table import Document, Table

from rxdesk.store.segment_db import SegmentDB, SegmentStorage, encode, open_segment

REPO = Path(__file__).resolve().parents[2]


class StockTable(Table):
    """TinyDB's own table with the same ids: what every operation must agree with."""

    document_id_class = str


def committed(tmp_path: Path, tables: dict[str, dict[str, Any]]) -> SegmentStorage:
    """A committed generation, from its file (`SegmentDB(committed(...))` is a unit of work's
    staged copy of it)."""
    path = tmp_path / "core.00000001.json"
    path.write_bytes(encode(tables))
    return SegmentStorage(path)


OPERATIONS: list[tuple[str, Callable[[Table], object]]] = [
    ("insert a document with its id", lambda t: t.insert(Document({"name": "Ada"}, "c"))),
    ("insert several", lambda t: t.insert_multiple([Document({"n": i}, f"m{i}") for i in range(3)])),
    ("upsert an existing one", lambda t: t.upsert(Document({"name": "Bea", "new": True}, "a"))),
    ("upsert a new one", lambda t: t.upsert(Document({"name": "Cy"}, "z"))),
    ("update fields by id", lambda t: t.update({"name": "Renamed"}, doc_ids=["b"])),
    ("update in place by a function", lambda t: t.update(lambda doc: doc.update(tags=[*doc["tags"], "x"]),
                                                          doc_ids=["a"])),
    ("update by query", lambda t: t.update({"seen": 1}, Query().name == "Bob")),
    ("remove by id", lambda t: t.remove(doc_ids=["a"])),
    ("remove by query", lambda t: t.remove(Query().name == "Bob")),
    ("truncate", lambda t: t.truncate()),
]


@pytest.mark.parametrize(("what", "operation"), OPERATIONS, ids=[what for what, _ in OPERATIONS])
def test_every_tinydb_write_agrees_with_tinydb_and_leaves_the_committed_segment_alone(
        tmp_path: Path, what: str, operation: Callable[[Table], object]) -> None:
    original: dict[str, dict[str, Any]] = {"people": {"a": {"name": "Ann", "tags": ["t"]}, "b": {"name": "Bob", "tags": []}},
                "other": {"k": {"v": 1}}}
    stock = TinyDB(storage=MemoryStorage)
    stock.table_class = StockTable
    stock.storage.write(copy.deepcopy(original))
    base = committed(tmp_path, original)
    staged = SegmentDB(base)

    operation(stock.table("people"))
    operation(staged.table("people"))

    assert staged.storage.read() == stock.storage.read()
    assert base.read() == original  # the committed generation (what readers hold) never changes


def test_a_write_changes_the_staged_table_in_place_not_a_copy_of_it(tmp_path: Path) -> None:
    """TinyDB's stock write path copies the whole table twice per write; SegmentTable replaces
    that one internal (`Table._update_table`). An upgrade that stops routing writes through it
    would make every write cost a table again: this fails first."""
    staged = SegmentDB(committed(tmp_path, {"people": {str(i): {"n": i} for i in range(1000)}}))
    people = staged.table("people")
    people.put("new", {"n": -1})
    tables = staged.storage.read()
    assert tables is not None
    table = tables["people"]
    for operation in (lambda: people.put("other", {"n": -2}), lambda: people.upsert(Document({"n": 0}, "1")),
                      lambda: people.update({"n": 5}, doc_ids=["2"]), lambda: people.remove(doc_ids=["3"])):
        operation()
        assert (staged.storage.read() or {}).get("people") is table
    assert people.document("1") == {"n": 0} and people.document("2") == {"n": 5} and not people.has("3")


def test_put_replaces_a_document_whole(tmp_path: Path) -> None:
    staged = SegmentDB(committed(tmp_path, {"people": {"a": {"name": "Ann", "gone": 1}}}))
    staged.table("people").put("a", {"name": "Ann"})
    assert staged.table("people").document("a") == {"name": "Ann"}  # an upsert would have kept "gone"


def test_a_committed_generation_refuses_every_write(tmp_path: Path) -> None:
    committed(tmp_path, {"people": {"a": {"name": "Ann"}}})
    db = open_segment(tmp_path / "core.00000001.json")
    with pytest.raises(RuntimeError, match="never changes"):
        db.table("people").put("b", {"name": "Bob"})
    with pytest.raises(RuntimeError, match="never changes"):
        db.table("people").upsert(Document({"name": "x"}, "a"))
    assert db.table("people").all() == [{"name": "Ann"}]


def test_a_staged_segment_is_written_as_a_new_generation_tinydb_opens(tmp_path: Path) -> None:
    staged = SegmentDB(committed(tmp_path, {"people": {"a": {"name": "Ann"}}}))
    staged.table("people").put("b", {"name": "Bob"})
    size, _crc = staged.segment_storage.write_generation(tmp_path / "core.00000002.json", fsync=False)
    assert size == (tmp_path / "core.00000002.json").stat().st_size
    reopened = open_segment(tmp_path / "core.00000002.json")
    assert {d.doc_id: d["name"] for d in reopened.table("people").all()} == {"a": "Ann", "b": "Bob"}
    assert reopened.table("people").search(Query().name == "Bob")[0].doc_id == "b"
    with pytest.raises(RuntimeError):  # frozen once written
        staged.table("people").put("c", {"name": "Cy"})


def test_search_results_are_copies(tmp_path: Path) -> None:
    db = SegmentDB(committed(tmp_path, {"people": {"a": {"name": "Ann"}}}))
    found = db.table("people").document("a")
    assert found is not None
    found["name"] = "changed by a caller"
    assert db.table("people").document("a") == {"name": "Ann"}


# -- the JSON of the data dir is read and written in one place ----------------------------------


def _importers_of(module: str, folder: Path) -> set[str]:
    found = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name == module or name.startswith(f"{module}.") for name in names):
                found.add(path.stem)
    return found


def test_only_the_segment_storage_module_parses_or_writes_json_in_the_data_dir_store() -> None:
    store = REPO / "rxdesk" / "store"
    assert _importers_of("orjson", store) == {"segment_db"}
    assert _importers_of("json", store) == {"segment_db"}


def test_the_import_contract_covers_every_module_of_the_data_dir_store() -> None:
    """The import-linter contract that keeps JSON in segment_db lists the modules one by one:
    a new module must join it."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if "orjson" in c.get("forbidden_modules", []))
    modules = {p.stem for p in (REPO / "rxdesk" / "store").glob("*.py")} - {"__init__", "segment_db"}
    assert set(contract["source_modules"]) == {f"rxdesk.store.{m}" for m in modules}


def test_threads_searching_one_committed_segment_at_once_all_get_their_answer(tmp_path: Path) -> None:
    """The app reads a cached segment from several threads; TinyDB's query cache (an LRU whose
    every step is several operations) is shared by them."""
    import sys
    import threading

    committed(tmp_path, {"people": {str(i): {"n": i % 40} for i in range(200)}})
    people = open_segment(tmp_path / "core.00000001.json").table("people")
    failures: list[BaseException] = []

    def search(offset: int) -> None:
        try:
            for i in range(6000):
                n = (i + offset) % 40  # more queries than the cache holds: it evicts all the time
                assert len(people.search(Query().n == n)) == 5
        except BaseException as exc:  # noqa: BLE001 - any failure in a thread is the finding
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show at once
    try:
        threads = [threading.Thread(target=search, args=(k * 7,)) for k in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []


def test_in_asks_for_an_id(tmp_path: Path) -> None:
    people = SegmentDB(committed(tmp_path, {"people": {"a": {"name": "Ann"}}})).table("people")
    assert "a" in people and people.has("a")
    assert "b" not in people and not people.has("b")
