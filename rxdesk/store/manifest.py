"""The manifest of a data dir (`rxdesk.json`): which file holds each segment, with its size and
CRC-32, the counters, and the graveyard of replaced files. Replacing it is the commit (`engine`).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from rxdesk.domain.errors import StoreError
from rxdesk.store.segment_db import decode, encode, fragment_of

FORMAT = "rxdesk-store/1"
# A manifest naming a delta file (`SegmentRef.delta`): a version that does not know deltas
# refuses it rather than read a segment without its latest changes (or write over them).
FORMAT_DELTAS = "rxdesk-store/2"
# A manifest whose counter `names.lines` is set: the patients' names index is one text of
# lines (`name_lines`), which a version that reads it as two lists would take for no names at all
# (and write over). It knows deltas too.
FORMAT_LINES = "rxdesk-store/3"
NAMES_AS_LINES = "names.lines"
# A manifest whose counter `appointments.compact` is set: a week may store an appointment without
# its null fields (`weeks.stored_appointment`), which a version from before would print without
# them. It knows deltas and names as lines too.
FORMAT_COMPACT = "rxdesk-store/4"
COMPACT_APPOINTMENTS = "appointments.compact"
# Counter `counted.NAME`: the generation of segment NAME's file that the counters kept about it
# describe. A commit that rewrites NAME moves it along when it was current (this version keeps
# such counters in step with every change); one that left it behind says they are stale.
COUNTED = "counted."


def segment_file(name: str, generation: int) -> str:
    """The file of segment `name` written by commit `generation` (files are never rewritten)."""
    return f"{name}.{generation:08d}.json"


def delta_file(name: str, generation: int) -> str:
    """The delta file of segment `name` written by commit `generation` (`SegmentRef.delta`)."""
    return f"{name}.delta.{generation:08d}.json"


def file_generation(file: str) -> int | None:
    """The generation in a segment file's name (`segment_file`); None for a name not of that form."""
    parts = file.rsplit(".", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


class SegmentRef(NamedTuple):
    """Where a segment's committed state is: its file, and with `delta` a small file of the
    documents changed since, laid over it (a cancel in a week of 20,000 appointments writes
    its one document, not the week: `engine`). A tuple: a manifest names thousands of
    segments and is read by every command (a frozen dataclass took 2 µs each to make)."""

    file: str
    size: int
    crc: int
    delta: SegmentRef | None = None

    @property
    def state(self) -> str:
        """The file that names this state of the segment: the delta's, or the file's."""
        return self.delta.file if self.delta is not None else self.file

    @property
    def generation(self) -> int | None:
        """The generation of the commit that last changed the segment."""
        return file_generation(self.state)

    def files(self) -> tuple[SegmentRef, ...]:
        """The files that make up the segment: the file, then its delta."""
        return (self,) if self.delta is None else (self, self.delta)

    def as_json(self) -> dict[str, object]:
        found: dict[str, object] = {"file": self.file, "size": self.size, "crc32": self.crc}
        if self.delta is not None:
            found["delta"] = self.delta.as_json()
        return found

    @classmethod
    def from_json(cls, ref: dict[str, object], *, deltas: bool) -> SegmentRef:
        delta = ref.get("delta") if deltas else None
        found = cls(str(ref["file"]), int(ref["size"]), int(ref["crc32"]),  # type: ignore[call-overload]
                    cls.from_json(delta, deltas=False) if isinstance(delta, dict) else None)
        if "/" in found.file or found.file.startswith(".") or (delta is not None and found.delta is None):
            raise ValueError("bad file name")
        return found


class Encoded:
    """What a process that writes again and again keeps of the last manifest it wrote: each
    segment's entry encoded, in name order (`Manifest.to_bytes`). A manifest names thousands of
    segments (2,500 at a million appointments) and a write changes a few: only theirs are
    encoded again."""

    def __init__(self) -> None:
        self.segments: Mapping[str, SegmentRef] = {}  # the segments encoded last
        self.names: list[str] = []  # their names, sorted
        self.parts: list[bytes] = []  # `"name":{entry}` of each name
        self.deltas = 0  # how many of them name a delta

    def object(self, segments: Mapping[str, SegmentRef], since: Mapping[str, SegmentRef] | None = None,
               changed: Iterable[str] = ()) -> bytes:
        """The JSON object of `segments`. `since`: what `segments` was made from by changing the
        entries of the names `changed` alone; when that is what was encoded last, only those are
        encoded again, otherwise (another process wrote since, or a write was not committed)
        every entry is compared with the one encoded."""
        trusted, self.segments = self.segments, {}  # a call cut short leaves every entry to compare
        if since is None or since is not trusted:
            self._compare(trusted, segments)
        else:
            for name in changed:
                self._change(name, since.get(name), segments.get(name))
        self.segments = segments
        return b"{" + b",".join(self.parts) + b"}"

    def _change(self, name: str, was: SegmentRef | None, ref: SegmentRef | None) -> None:
        names, parts = self.names, self.parts
        at = bisect.bisect_left(names, name)
        here = at < len(names) and names[at] == name
        self.deltas += (ref is not None and ref.delta is not None) - (was is not None and was.delta is not None)
        if ref is None:
            if here:
                del names[at], parts[at]
        elif here:
            parts[at] = _entry(name, ref)
        else:
            names.insert(at, name)
            parts.insert(at, _entry(name, ref))

    def _compare(self, before: Mapping[str, SegmentRef], segments: Mapping[str, SegmentRef]) -> None:
        kept = dict(zip(self.names, self.parts, strict=True)) if before else {}  # whole when `before` is
        names = sorted(segments)
        self.parts = [kept[name] if name in kept and before.get(name) == ref else _entry(name, ref)
                      for name, ref in ((name, segments[name]) for name in names)]
        self.names = names
        self.deltas = sum(ref.delta is not None for ref in segments.values())


def _entry(name: str, ref: SegmentRef) -> bytes:
    return encode({name: ref.as_json()})[1:-1]


def carry_counted(counters: dict[str, int], old: Manifest, rewritten: Iterable[str], generation: int) -> None:
    """Move `counted.NAME` to `generation` for each segment rewritten in this commit whose
    counters described its previous file."""
    for name in rewritten:
        ref = old.segments.get(name)
        if ref is not None and counters.get(COUNTED + name) == ref.generation:
            counters[COUNTED + name] = generation


@dataclass(frozen=True)
class Manifest:
    generation: int = 0
    segments: Mapping[str, SegmentRef] = field(default_factory=dict)
    counters: Mapping[str, int] = field(default_factory=dict)
    graveyard: tuple[tuple[str, float], ...] = ()
    raw: bytes = b""

    @cached_property
    def _names(self) -> tuple[str, ...]:
        return tuple(sorted(self.segments))

    def names(self, prefix: str) -> list[str]:
        """The names of the segments that start with `prefix`, sorted: found by bisecting the
        sorted names (a manifest names thousands of segments; a command asks several times)."""
        names = self._names
        first = bisect.bisect_left(names, prefix)
        if not prefix:
            return list(names)
        after = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # the first text past every name with the prefix
        return list(names[first:bisect.bisect_left(names, after, first)])

    def _format(self, deltas: bool) -> str:
        """The oldest format whose readers read this data dir as it is."""
        if self.counters.get(COMPACT_APPOINTMENTS):
            return FORMAT_COMPACT
        return FORMAT_LINES if self.counters.get(NAMES_AS_LINES) else FORMAT_DELTAS if deltas else FORMAT

    def to_bytes(self, encoded: Encoded | None = None, since: Mapping[str, SegmentRef] | None = None,
                 changed: Iterable[str] = ()) -> bytes:
        """The manifest's file. With `encoded` (what this process wrote last), only the entries
        of segments changed since are encoded (`Encoded.object`)."""
        segments: object
        if encoded is None:
            segments = {name: self.segments[name].as_json() for name in self._names}
            deltas = any(ref.delta is not None for ref in self.segments.values())
        else:
            segments = fragment_of(encoded.object(self.segments, since, changed))
            deltas = encoded.deltas > 0
        return encode(
            {
                "format": self._format(deltas),
                "generation": self.generation,
                "committed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "segments": segments,
                "counters": dict(sorted(self.counters.items())),
                "graveyard": [list(item) for item in self.graveyard],
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path) -> Manifest:
        data = decode(raw, path)
        try:
            if data.get("format") not in (FORMAT, FORMAT_DELTAS, FORMAT_LINES, FORMAT_COMPACT):
                raise ValueError("unknown format")
            deltas = data["format"] != FORMAT
            segments = {str(name): SegmentRef.from_json(ref, deltas=deltas) for name, ref in data["segments"].items()}
            return cls(
                generation=int(data["generation"]),
                segments=segments,
                counters={str(k): int(v) for k, v in data.get("counters", {}).items()},
                graveyard=tuple((str(f), float(t)) for f, t in data.get("graveyard", [])),
                raw=raw,
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise StoreError(
                f"data file {path} is not an rxdesk manifest (corrupt or foreign); "
                "it was left as it is"
            ) from None
