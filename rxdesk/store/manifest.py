"""The manifest of a data dir (`rxdesk.json`): which file holds each segment, with its size and
CRC-32, the counters, and the graveyard of replaced files. Replacing it is the commit (`engine`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rxdesk.domain.errors import StoreError
from rxdesk.store.segment_db import decode, encode

FORMAT = "rxdesk-store/1"
# Counter `counted.NAME`: the generation of segment NAME's file that the counters kept about it
# describe. A commit that rewrites NAME moves it along when it was current (this version keeps
# such counters in step with every change); one that left it behind says they are stale.
COUNTED = "counted."


def segment_file(name: str, generation: int) -> str:
    """The file of segment `name` written by commit `generation` (files are never rewritten)."""
    return f"{name}.{generation:08d}.json"


def file_generation(file: str) -> int | None:
    """The generation in a segment file's name (`segment_file`); None for a name not of that form."""
    parts = file.rsplit(".", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


@dataclass(frozen=True)
class SegmentRef:
    file: str
    size: int
    crc: int


def carry_counted(counters: dict[str, int], old: Manifest, rewritten: Iterable[str], generation: int) -> None:
    """Move `counted.NAME` to `generation` for each segment rewritten in this commit whose
    counters described its previous file."""
    for name in rewritten:
        ref = old.segments.get(name)
        if ref is not None and counters.get(COUNTED + name) == file_generation(ref.file):
            counters[COUNTED + name] = generation


@dataclass(frozen=True)
class Manifest:
    generation: int = 0
    segments: Mapping[str, SegmentRef] = field(default_factory=dict)
    counters: Mapping[str, int] = field(default_factory=dict)
    graveyard: tuple[tuple[str, float], ...] = ()
    raw: bytes = b""

    def to_bytes(self) -> bytes:
        return encode(
            {
                "format": FORMAT,
                "generation": self.generation,
                "committed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "segments": {
                    name: {"file": ref.file, "size": ref.size, "crc32": ref.crc}
                    for name, ref in sorted(self.segments.items())
                },
                "counters": dict(sorted(self.counters.items())),
                "graveyard": [list(item) for item in self.graveyard],
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path) -> Manifest:
        data = decode(raw, path)
        try:
            if data.get("format") != FORMAT:
                raise ValueError("unknown format")
            segments = {
                str(name): SegmentRef(str(ref["file"]), int(ref["size"]), int(ref["crc32"]))
                for name, ref in data["segments"].items()
            }
            for ref in segments.values():
                if "/" in ref.file or ref.file.startswith("."):
                    raise ValueError("bad file name")
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
