"""The patients' names index as one text of sorted lines, `<id>\\t<name>\\n` each.

A listing's first page needs the names of 60 patients out of 120,000. Stored as two lists of
strings, the index had to be parsed whole for them (240,000 strings, 11-14 ms at a million
appointments) and then searched (another 4-9 ms); as one string it parses as one value (3 ms)
and a name is found by bisecting its lines (60 names: 0.3 ms). The whole mapping, which a
search by name needs, is split out of it once per state of the index.

Ids and names never hold a tab or a newline (input rules refuse control characters); a text of
lines is made only when that holds (`lines_of`), else the index is kept in its older form.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping


def lines_of(names: Iterable[tuple[str, str]]) -> str | None:
    """The text of these (id, name) pairs, sorted by id; None when an id or a name holds a tab
    or a newline (it could not be told apart)."""
    pairs = sorted(names)
    text = "".join([f"{key}\t{name}\n" for key, name in pairs])
    return text if text.count("\n") == len(pairs) == text.count("\t") else None


def _locate(text: str, key: str, lo: int = 0) -> tuple[int, int, bool]:
    """(start, end, found): the line of `key` (its span), or where it would go (start = end),
    in the lines from offset `lo` on (a line start, every line before it sorting before `key`)."""
    hi = len(text)
    while lo < hi:
        mid = (lo + hi) // 2
        start = text.rfind("\n", lo, mid) + 1 or lo
        end = text.index("\n", start) + 1
        found = text[start:text.index("\t", start, end)]
        if found < key:
            lo = end
        elif found > key:
            hi = start
        else:
            return start, end, True
    return lo, lo, False


def pick(text: str, keys: Collection[str]) -> dict[str, str]:
    """The names of these ids that the text holds."""
    picked: dict[str, str] = {}
    lo = 0
    for key in sorted(keys):
        start, end, found = _locate(text, key, lo)
        if found:
            picked[key] = text[text.index("\t", start, end) + 1:end - 1]
        lo = start
    return picked


def spliced(text: str, changes: Mapping[str, str | None]) -> str | None:
    """The text with each changed id's line set to its name, added in its place or (None)
    removed: one pass over the text, not a sort of every name. None as `lines_of`."""
    pieces: list[str] = []
    at = 0
    for key in sorted(changes):
        name = changes[key]
        if "\t" in key or "\n" in key or (name is not None and ("\t" in name or "\n" in name)):
            return None
        start, end, found = _locate(text, key, at)
        pieces.append(text[at:start])
        if name is not None:
            pieces.append(f"{key}\t{name}\n")
        at = end if found else start
    pieces.append(text[at:])
    return "".join(pieces)


def as_mapping(text: str) -> dict[str, str]:
    """Every id -> name of the text."""
    parts = text.replace("\n", "\t").split("\t")  # id, name, id, name, ..., ""
    return dict(zip(parts[0:-1:2], parts[1:-1:2], strict=True))


# A unit of work changing more names than this (a bulk load) works on the whole mapping.
SPLICED_AT_MOST = 256


class Changing:
    """The index as a unit of work changes it, kept across its changes: the committed text and
    the names changed since (one patient's write looks up and splices its own line), or the
    whole mapping (an index in an older form, or many changes)."""

    def __init__(self, text: str | None, whole: Callable[[], Mapping[str, str]]) -> None:
        self._text = text
        self._changed: dict[str, str | None] = {}
        self._known: dict[str, str] | None = None if text is not None else dict(whole())

    def change(self, names: Mapping[str, str | None]) -> bool:
        """Set these names (None: remove the id); whether any was not so already."""
        if self._known is None and len(self._changed) + len(names) > SPLICED_AT_MOST:
            self._known = self.mapping()
        if self._known is not None:
            changed = {key: name for key, name in names.items() if self._known.get(key) != name}
            _apply(self._known, changed)
            return bool(changed)
        assert self._text is not None
        had = pick(self._text, [key for key in names if key not in self._changed])
        changed = {key: name for key, name in names.items()
                   if (self._changed[key] if key in self._changed else had.get(key)) != name}
        self._changed.update(changed)
        return bool(changed)

    def mapping(self) -> dict[str, str]:
        """Every id -> name, as changed (read-only: the whole mapping this keeps, when it does)."""
        if self._known is not None:
            return self._known
        assert self._text is not None
        known = as_mapping(self._text)
        _apply(known, self._changed)
        return known

    def lines(self) -> str | None:
        """The text of the index as changed; None when it cannot be lines (`lines_of`)."""
        if self._known is None:
            assert self._text is not None
            text = spliced(self._text, self._changed)
            if text is not None:
                return text
        return lines_of(self.mapping().items())


def _apply(known: dict[str, str], changes: Mapping[str, str | None]) -> None:
    for key, name in changes.items():
        if name is None:
            known.pop(key, None)
        else:
            known[key] = name
