"""The manifest a process writes again and again: only the entries its write changed are encoded
again (`manifest.Encoded`), and the file is the one encoding it whole would give."""

from __future__ import annotations

import random
import re

import pytest

from rxdesk.store import manifest as manifest_module
from rxdesk.store.manifest import NAMES_AS_LINES, Encoded, Manifest, SegmentRef

STAMP = re.compile(rb'"committed_at":"[^"]*"')


def as_written(raw: bytes) -> bytes:
    return STAMP.sub(b'"committed_at":""', raw)  # the one part that is the time it was written


def a_ref(rng: random.Random, name: str, generation: int) -> SegmentRef:
    ref = SegmentRef(f"{name}.{generation:08d}.json", rng.randrange(1, 10**6), rng.randrange(2**32))
    if rng.random() < 0.3:
        return ref._replace(delta=SegmentRef(f"{name}.delta.{generation:08d}.json", rng.randrange(1, 999),
                                             rng.randrange(2**32)))
    return ref


def a_change(rng: random.Random, segments: dict[str, SegmentRef], generation: int) -> tuple[dict[str, SegmentRef],
                                                                                          set[str]]:
    """What a commit does: a few segments written (new, whole or as a delta), some dropped."""
    after, changed = dict(segments), set()
    for _ in range(rng.randrange(1, 6)):
        if after and rng.random() < 0.25:
            name = rng.choice(sorted(after))
            del after[name]
        else:
            name = rng.choice(["events-", "week-", "activity-", "audit-", "a", "z", ""]) + str(rng.randrange(40))
            after[name] = a_ref(rng, name, generation)
        changed.add(name)
    return after, changed


def written(segments: dict[str, SegmentRef], generation: int, counters: dict[str, int], *,
            encoded: Encoded | None = None, since: dict[str, SegmentRef] | None = None,
            changed: set[str] | None = None) -> bytes:
    found = Manifest(generation, segments, counters, (("old.json", 1.5),))
    if encoded is None:
        return found.to_bytes()
    return found.to_bytes(encoded, since, changed or set())


@pytest.mark.parametrize("seed", range(4))
def test_a_manifest_written_again_and_again_is_byte_for_byte_the_one_encoded_whole(seed: int) -> None:
    rng = random.Random(seed)
    encoded = Encoded()
    segments: dict[str, SegmentRef] = {}
    counters: dict[str, int] = {}
    for generation in range(1, 300):
        after, changed = a_change(rng, segments, generation)
        since = segments  # what this write was made from: the manifest it read
        if rng.random() < 0.1:  # another process wrote: the same entries, parsed again
            since = {name: SegmentRef(*ref) for name, ref in segments.items()}
        if rng.random() < 0.05:
            counters[NAMES_AS_LINES] = 1
        raw = written(after, generation, counters, encoded=encoded, since=since, changed=changed)
        assert as_written(raw) == as_written(written(after, generation, counters))
        if rng.random() < 0.1:  # a commit that failed after encoding: the next builds on the older state
            continue
        segments = after


def test_a_second_write_encodes_only_the_entries_it_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    segments = {f"events-{n:05d}": a_ref(rng, f"events-{n:05d}", 1) for n in range(2000)}
    encoded = Encoded()
    written(segments, 1, {}, encoded=encoded)
    made: list[str] = []
    entry = manifest_module._entry

    def counting(name: str, ref: SegmentRef) -> bytes:
        made.append(name)
        return entry(name, ref)

    monkeypatch.setattr(manifest_module, "_entry", counting)
    after = {**segments, "week-2026-11-23": a_ref(rng, "week-2026-11-23", 2)}
    del after["events-00007"]
    after["events-01999"] = a_ref(rng, "events-01999", 2)
    raw = written(after, 2, {}, encoded=encoded, since=segments,
                  changed={"week-2026-11-23", "events-00007", "events-01999"})
    assert sorted(made) == ["events-01999", "week-2026-11-23"]
    assert as_written(raw) == as_written(written(after, 2, {}))
    made.clear()  # after another process's write: every entry compared, the equal ones kept
    parsed = {name: SegmentRef(*ref) for name, ref in after.items()}
    later = {**parsed, "events-00001": a_ref(rng, "events-00001", 3)}
    raw = written(later, 3, {}, encoded=encoded, since=parsed, changed={"events-00001"})
    assert made == ["events-00001"]
    assert as_written(raw) == as_written(written(later, 3, {}))


def test_an_encoding_cut_short_is_not_built_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # A write whose encoding stopped half way (out of memory, say) left some entries changed
    # and others not: the next write from the same process compares every entry again.
    rng = random.Random(11)
    segments = {f"week-{n:03d}": a_ref(rng, f"week-{n:03d}", 1) for n in range(50)}
    encoded = Encoded()
    written(segments, 1, {}, encoded=encoded)
    entry = manifest_module._entry
    made: list[str] = []

    def failing_second(name: str, ref: SegmentRef) -> bytes:
        made.append(name)
        if len(made) == 2:
            raise MemoryError
        return entry(name, ref)

    monkeypatch.setattr(manifest_module, "_entry", failing_second)
    failed = {**segments, "week-001": a_ref(rng, "week-001", 2), "week-002": a_ref(rng, "week-002", 2)}
    with pytest.raises(MemoryError):
        written(failed, 2, {}, encoded=encoded, since=segments, changed={"week-001", "week-002"})
    monkeypatch.setattr(manifest_module, "_entry", entry)
    after = {**segments, "week-003": a_ref(rng, "week-003", 2)}  # the next write, on the committed state
    raw = written(after, 2, {}, encoded=encoded, since=segments, changed={"week-003"})
    assert as_written(raw) == as_written(written(after, 2, {}))
