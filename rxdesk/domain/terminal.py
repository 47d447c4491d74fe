"""Text from data or from outside, made safe to write to a terminal.

A name, an email address, a URL or a receiver's answer may carry control characters: an
escape sequence would move the cursor, retitle the window or (OSC 52) write the agent's
clipboard; a bidirectional override would show text in another order than it is stored
("Trojan Source"). Every output that shows such text passes it through `terminal_safe`, which
writes each of these characters as a visible escape (`\\x1b`, `\\u202e`) instead.

Input fields refuse them in the first place (`has_control`: the one rule every input check
uses); this is the second line, for what is already stored or comes from a partner's server.
JSON output (`--json`) writes them as JSON escapes (`json_safe`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# C0 controls, DEL, C1 controls, the bidirectional embeddings, overrides and isolates, and
# lone surrogates: not text at all (an argument of invalid UTF-8 arrives as one, a JSON
# `\ud800` decodes to one); no terminal, file or database can take them as they are.
_BIDI = "\u202a-\u202e\u2066-\u2069"
_SURROGATES = "\ud800-\udfff"
# The line and paragraph separators: a line break to Unicode (a script reading a listing with
# Python's `splitlines`, an editor), nothing visible to most terminals.
_SEPARATORS = "\u2028\u2029"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_SEPARATORS}{_SURROGATES}]")
_UNSAFE_KEEP_LINES = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}{_SEPARATORS}{_SURROGATES}]")
# What a JSON serializer leaves raw inside strings: it escapes C0 itself, and outside strings
# JSON text is ASCII, so these occur only inside strings.
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f{_BIDI}{_SEPARATORS}{_SURROGATES}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_safe(text: str, *, lines: bool = False) -> str:
    """`text` with every control character and bidi override written as a visible escape.

    With `lines`, newlines are kept (for multi-line blocks such as a receiver's answer);
    everything else, a carriage return included, is escaped.
    """
    pattern = _UNSAFE_KEEP_LINES if lines else _UNSAFE
    if pattern.search(text) is None:  # the common case: nothing to copy
        return text
    return pattern.sub(_escape, text)


def json_safe(text: str) -> str:
    """JSON text (as a serializer wrote it) with DEL, C1 controls and bidi overrides written
    as `\\uXXXX` escapes, as serializers write C0 controls: the same value, safe to print."""
    if _UNSAFE_IN_JSON.search(text) is None:
        return text
    return _UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def all_safe(texts: Iterable[str]) -> bool:
    """True when no text of `texts` holds anything `terminal_safe` would escape: one scan for
    a whole column of a listing."""
    return _UNSAFE.search(" ".join(texts)) is None


def has_control(text: str) -> bool:
    """True when `text` holds a character input fields refuse: a control character (a
    newline or tab included), a bidirectional override, a line or paragraph separator or a
    lone surrogate."""
    return _UNSAFE.search(text) is not None
