"""The one rule for an http(s) URL rxdesk takes: meeting rooms (sent to patients by email and
SMS), the Jitsi base of new rooms, webhook subscriptions and the SMS gateway.

A room link goes out to patients, so what a reader sees must be where the link goes:
- no user name or password (`https://meet.example@evil.example/` reads as meet.example);
- no backslash (browsers read `\\` as `/`: `https://evil.example\\@meet.example/`);
- a host of valid labels (letters, digits, inner hyphens; no `a..b`, `-bad-`, `_`), or an IP
  address (IPv6 in brackets); a port, when given, of 1-65535;
- a host in another script is kept in its ASCII form (IDNA 2008, `xn--...`), so a homograph
  (a Cyrillic `а` for a Latin `a`) is visible in every listing;
- no spaces, control characters, bidi overrides or other invisible format characters
  (U+200E, U+FEFF, ...) anywhere.
Where a request may then go (private or link-local addresses) is the egress check's part.

A meeting room (and the Jitsi base new rooms are made under) goes further
(`check_room_url`): patients open it from their own devices, so its host is a public DNS name
or a public IP address written the one way everyone reads alike (IPv4 as four decimal
numbers). `https://0x7f.1/` opens 127.0.0.1 in a browser, `https://1.2.3.4.5/` names nothing
anyone can reach: both are refused, as are loopback, private and link-local addresses.
"""

from __future__ import annotations

import ipaddress
import re

from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.terminal import has_control

MAX_URL_CHARS = 2000
_SCHEME_RE = re.compile(r"(?i)(https?)://")
_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_PORT_RE = re.compile(r"[0-9]{1,5}")
# A last label a browser reads as a number (WHATWG URL: decimal, or 0x and hex): the host is
# then an IPv4 address, whatever it looks like.
_NUMERIC_LABEL_RE = re.compile(r"(?i)[0-9]+|0x[0-9a-f]*")
# Names that never reach a patient's device over the internet.
_LOCAL_TLDS = frozenset({"localhost", "local", "internal", "invalid", "onion", "arpa"})


def _has_format_character(url: str) -> bool:
    import unicodedata  # only a URL beyond ASCII can hold one

    return any(unicodedata.category(ch) == "Cf" for ch in url)


def _ascii_host(host: str) -> str:
    """`host` as an ASCII name of valid labels (IDNA 2008 for another script), or refused."""
    if not host.isascii():
        import idna  # its tables load only for a host that needs them

        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except UnicodeError:  # idna.IDNAError is one
            raise ValidationFailed(f"the URL's host {host[:60]!r} is not a valid host name") from None
    name = host[:-1] if host.endswith(".") else host  # a fully qualified name may end in a dot
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise ValidationFailed(f"the URL's host {host[:60]!r} is not a valid host name "
                               "(letters, digits and inner hyphens between dots)")
    for label in labels:
        if label[:4].lower() == "xn--":
            import idna

            try:
                idna.decode(label)
            except UnicodeError:
                raise ValidationFailed(f"the URL's host label {label[:64]!r} is not a valid IDNA name") from None
    return host


def _split_authority(authority: str) -> tuple[str, str]:
    """(host, port text or "") of `host[:port]` or `[v6]:port`."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValidationFailed("the URL's IPv6 address has no closing ]")
        host, rest = authority[: end + 1], authority[end + 1 :]
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValidationFailed(f"the URL's host {host[:60]!r} is not an IPv6 address") from None
        if rest and not rest.startswith(":"):
            raise ValidationFailed("the URL has unexpected text after its IPv6 address")
        return host, rest[1:] if rest else ""
    host, colon, port = authority.rpartition(":")
    return (host, port) if colon else (authority, "")


def check_http_url(text: object) -> str:
    """`text` if it is an http:// or https:// URL as the module says, with a host in another
    script in its ASCII form; else ValidationFailed with the reason in one line, which quotes
    at most the host (a refused URL may carry a password)."""
    return _checked(text)[0]


def check_room_url(text: object) -> str:
    """`check_http_url`, and a host patients can reach and read alike: a public DNS name (two
    labels or more, not under localhost, local, internal, ...) or a public IP address, IPv4 in
    canonical dotted form, IPv6 in brackets; never loopback, private or link-local."""
    url, host = _checked(text)
    if host.startswith("["):
        v6 = ipaddress.IPv6Address(host[1:-1])
        _public(v6.ipv4_mapped or v6, host)
        return url
    name = host.rstrip(".").lower()
    labels = name.split(".")
    if _NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        try:
            v4 = ipaddress.IPv4Address(name)  # four decimal numbers, no leading zeros
        except ValueError:
            raise ValidationFailed(f"the URL's host {host[:60]!r} is read as a number by browsers but is not an "
                                   "IPv4 address written as four numbers (a.b.c.d)") from None
        _public(v4, host)
        return url
    if len(labels) < 2 or labels[-1] in _LOCAL_TLDS:
        raise ValidationFailed(f"the URL's host {host[:60]!r} is not a public name patients can reach "
                               "(such as meet.example.org)")
    return url


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address, host: str) -> None:
    if not address.is_global or address.is_multicast:
        kind = ("loopback" if address.is_loopback else "link-local" if address.is_link_local
                else "private" if address.is_private else "not public")
        raise ValidationFailed(f"the URL's host {host[:60]} is a {kind} address patients cannot reach")


def _checked(text: object) -> tuple[str, str]:
    """(the URL, its host in ASCII form) by the module's rule."""
    if not isinstance(text, str):
        raise ValidationFailed("a URL must be text")
    url = text.strip()
    if not url:
        raise ValidationFailed("the URL is empty; give an http:// or https:// URL")
    if len(url) > MAX_URL_CHARS:
        raise ValidationFailed(f"the URL is longer than {MAX_URL_CHARS} characters")
    if has_control(url):
        raise ValidationFailed("the URL must not contain control characters or bidi overrides")
    if not url.isascii() and _has_format_character(url):
        raise ValidationFailed("the URL must not contain invisible format characters (such as U+200E or U+FEFF)")
    if any(ch.isspace() for ch in url):
        raise ValidationFailed("the URL must not contain spaces")
    scheme = _SCHEME_RE.match(url)
    if scheme is None:
        raise ValidationFailed("the URL must start with http:// or https://")
    if "\\" in url:
        raise ValidationFailed("the URL must not contain a backslash (browsers read it as /)")
    after = url[scheme.end():]
    cut = min((i for i in (after.find(c) for c in "/?#") if i >= 0), default=len(after))
    authority, rest = after[:cut], after[cut:]
    if "@" in authority:
        raise ValidationFailed("the URL must not carry a user name or password (user@host)")
    host, port = _split_authority(authority)
    if not host:
        raise ValidationFailed("the URL has no host")
    given = bool(port) or authority.endswith(":")
    if given and (not _PORT_RE.fullmatch(port) or not 1 <= int(port) <= 65535):
        raise ValidationFailed("the URL's port must be a number from 1 to 65535")
    if not host.startswith("["):
        ascii_host = _ascii_host(host)
        if ascii_host != host:
            authority = f"{ascii_host}:{port}" if port else ascii_host
            host = ascii_host
    return f"{scheme.group()}{authority}{rest}", host
