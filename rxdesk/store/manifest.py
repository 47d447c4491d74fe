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
from typing import Any, NamedTuple

from rxdesk.domain.errors import StoreError
from rxdesk.store.segment_db import decode, encode, fragment

FORMAT = "rxdesk-store/1"
# A manifest naming a delta file (`SegmentRef.delta`): a version that does not know deltas
# refuses it rather than read a segment without its latest changes (or write over them).
FORMAT_DELTAS = "rxdesk-store/2"
# A manifest whose counter `names.lines` is set: the patients' names index is one text of
# lines (`name_lines`), which a version that reads it as two lists would take for no names at all
# (and write over). It knows deltas too.
FORMAT_LINES = "rxdesk-store/3"
NAMES_AS_LINES = "names.lines"
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


# Segment name -> (its entry, the entry encoded): what a process that writes again and again
# keeps of its last manifest (`Manifest.to_bytes`).
Encoded = dict[str, tuple[SegmentRef, Any]]


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

    def to_bytes(self, encoded: Encoded | None = None) -> bytes:
        """The manifest's file. With `encoded`, the entries of segments unchanged since the
        manifest it was given for last are taken from it, and it is kept in step (a manifest
        names thousands of segments; the app and the worker write one at each change)."""
        segments = self.segments
        deltas = False
        entries: dict[str, object] = {}
        # By the sorted names, not the sorted (name, ref) pairs: every write of a manifest of
        # thousands of segments does this, and comparing pairs cost it ~0.4 ms in a busy process.
        for name in self._names:
            ref = segments[name]
            deltas = deltas or ref.delta is not None
            if encoded is None:
                entries[name] = ref.as_json()
                continue
            kept = encoded.get(name)
            if kept is None or (kept[0] is not ref and kept[0] != ref):
                kept = encoded[name] = (ref, fragment(ref.as_json()))
            entries[name] = kept[1]
        if encoded is not None and len(encoded) > len(segments):
            for name in encoded.keys() - segments.keys():
                del encoded[name]
        return encode(
            {
                "format": FORMAT_LINES if self.counters.get(NAMES_AS_LINES) else FORMAT_DELTAS if deltas else FORMAT,
                "generation": self.generation,
                "committed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "segments": entries,
                "counters": dict(sorted(self.counters.items())),
                "graveyard": [list(item) for item in self.graveyard],
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path) -> Manifest:
        data = decode(raw, path)
        try:
            if data.get("format") not in (FORMAT, FORMAT_DELTAS, FORMAT_LINES):
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
