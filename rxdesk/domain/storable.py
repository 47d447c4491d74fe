"""Text from outside, made storable by both stores.

A receiver's answer, or what a server said when it failed, may hold characters no store can
keep: PostgreSQL text cannot hold NUL, and neither store can write a lone surrogate (UTF-8 and
JSON have no spelling for one). Each becomes U+FFFD, as invalid UTF-8 does when it is decoded;
everything else, control characters included, is kept as it came and escaped wherever it is
shown (`terminal.terminal_safe`).
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD."""
    if _UNSTORABLE.search(text) is None:  # the common case: nothing to copy
        return text
    return _UNSTORABLE.sub(REPLACEMENT, text)


def decoded(raw: bytes) -> str:
    """Bytes from outside as storable text: invalid UTF-8 becomes U+FFFD too."""
    return storable(raw.decode("utf-8", errors="replace"))
