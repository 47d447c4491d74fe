"""Where an outbound request may go, and what it may carry.

Destinations. A webhook URL is a partner's (or anyone's) input, and its answer is shown to
agents: without a check, a subscription to `http://169.254.169.254/` would read the cloud's
metadata service through `deliveries show`. So the address a request goes to is checked after
name resolution, on every new connection (a DNS answer that changes is checked again), and the
connection is made to exactly the address that was checked:

- link-local (169.254.0.0/16 and fe80::/10: cloud metadata), unspecified (0.0.0.0/8, ::),
  multicast, broadcast and reserved addresses are always refused;
- loopback and private ranges (127/8, ::1, 10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10
  and the other non-global ranges) only for a subscription added with
  `--allow-private-network`;
- an IPv4 address inside IPv6 (`::ffff:127.0.0.1`, 6to4, NAT64) is judged as that IPv4
  address; numeric forms such as `0x7f000001` or `2130706433` are judged as what they resolve to.

Clients made here never use HTTP(S)_PROXY from the environment (a proxy would resolve the name
itself) and never follow redirects; every connect, read and write keeps to the attempt's
deadline (`rxdesk.services.deadline`). httpx sends through `GuardedTransport`, a public
`httpx.BaseTransport` over an `httpcore` connection pool whose network backend is
`GuardedBackend`: resolve, check, connect to the checked address.

Headers. A subscription's custom headers are token names with values of visible ASCII and
spaces; never the signature headers, nor one that frames the request or the connection
(`content-*`, `host`, `connection`, `transfer-encoding`, `te`, `trailer`, `upgrade`,
`keep-alive`, `expect`, `proxy-*`), which would let a proxy strip the signature or break
the receiver's parsing.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from rxdesk.domain.errors import ValidationFailed
from rxdesk.services import deadline

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# -- destinations ------------------------------------------------------------------------

_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(httpcore.ConnectError):
    """The name resolved to an address this request may not go to."""


class NameNotResolved(httpcore.ConnectError):
    """The host name does not resolve (no such host, or no answer from the resolver)."""


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why a request may not go to `ip`, or None when it may."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        why = refusal(inner, allow_private=allow_private)
        return f"{why} (inside {ip})" if why else None
    if ip.is_link_local:
        return f"{ip} is link-local (such as a cloud metadata service)"
    if ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in _THIS_NETWORK):
        return f"{ip} is an unspecified address"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if (ip.is_reserved and not ip.is_loopback) or ip == ipaddress.IPv4Address("255.255.255.255"):
        return f"{ip} is a reserved address"
    if ip.is_loopback or not ip.is_global:
        if allow_private:
            return None
        kind = "a loopback" if ip.is_loopback else "a private"
        return (f"{ip} is {kind} address; only a subscription added with --allow-private-network "
                "may send there")
    return None


def check_url_destination(url: str, *, allow_private: bool) -> None:
    """At `subscriptions add`: refuse a URL whose host is an address (in any numeric form) or
    a `localhost` name the policy refuses. Other names are checked when they resolve, on every
    attempt."""
    host = httpx.URL(url).host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        addresses: list[IPAddress] = [ipaddress.ip_address("127.0.0.1")]
    else:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        except (socket.gaierror, UnicodeError, ValueError):
            return  # a name: resolved and checked at send time
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for ip in addresses:
        why = refusal(ip, allow_private=allow_private)
        if why:
            raise ValidationFailed(f"url {url[:60]!r}: {why}")


def _resolve(host: str, port: int, timeout: float | None) -> list[tuple[Any, ...]]:
    """getaddrinfo within `timeout`: a slow resolver must not outlast the attempt."""
    found: list[Any] = []

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            found.append(exc)

    worker = threading.Thread(target=lookup, daemon=True, name="rxdesk-resolve")
    worker.start()
    worker.join(timeout)
    if not found:
        raise httpcore.ConnectTimeout(f"resolving {host} took too long")
    if isinstance(found[0], OSError):
        why = found[0].strerror or type(found[0]).__name__
        raise NameNotResolved(f"cannot resolve host {host} ({why})")
    addresses: list[tuple[Any, ...]] = found[0]
    return addresses


# -- streams and clients that keep to the attempt's deadline -----------------------------

def _left(timeout: float | None, error: type[Exception]) -> float | None:
    try:
        return deadline.left(timeout)
    except deadline.AttemptTimedOut:
        raise error("the attempt's deadline passed") from None


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks every address against the policy (`allow_private`; None: any address,
    for a gateway the operator configured), and connects to the checked address."""

    def __init__(self, allow_private: bool | None) -> None:
        self.allow_private = allow_private
        self._sync = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        infos = _resolve(host, port, _left(timeout, httpcore.ConnectTimeout))
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if self.allow_private is not None:
            for address in addresses:
                why = refusal(ipaddress.ip_address(address.split("%")[0]), allow_private=self.allow_private)
                if why:
                    raise DestinationRefused(f"refused: {host} resolves to {why}")
        error: Exception | None = None
        for address in addresses:
            try:
                stream = self._sync.connect_tcp(address, port, _left(timeout, httpcore.ConnectTimeout),
                                                local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _DeadlineStream(stream)
        raise error or httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None,
                            ) -> httpcore.NetworkStream:  # pragma: no cover - never configured
        raise httpcore.ConnectError("unix sockets are not used")

    def sleep(self, seconds: float) -> None:  # pragma: no cover - retries are off
        self._sync.sleep(seconds)


# httpcore's errors as httpx's, so callers handle one family: a timeout of any phase is an
# httpx.TimeoutException, every other failure an httpx.TransportError (the cause is kept).
_AS_HTTPX: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.TimeoutException, httpx.TimeoutException),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for theirs, ours in _AS_HTTPX:
            if isinstance(exc, theirs):
                raise ours(str(exc)) from exc
        raise


class _Answer(httpx.SyncByteStream):
    """The body of an answer, read through the guarded streams, with httpx's errors."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            with _as_httpx_errors():
                close()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore connection pool whose every connection is made by
    `GuardedBackend`: the one seam between httpx and the destination policy, both public APIs
    (`httpx.BaseTransport`, `httpcore.ConnectionPool(network_backend=...)`)."""

    def __init__(self, allow_private: bool | None, limits: httpx.Limits) -> None:
        self.backend = GuardedBackend(allow_private)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, Iterable):  # pragma: no cover - a sync client's request always is
            raise TypeError("an httpx.Client request was expected")
        url = request.url
        outgoing = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            answer = self._pool.handle_request(outgoing)
        if not isinstance(answer.stream, Iterable):  # pragma: no cover - a sync pool's answer always is
            raise TypeError("httpcore's sync pool gave an answer that cannot be read in this thread")
        return httpx.Response(status_code=answer.status, headers=answer.headers, stream=_Answer(answer.stream),
                              extensions=answer.extensions)

    def close(self) -> None:
        self._pool.close()


def outbound_client(*, allow_private: bool | None, timeout: float = deadline.ATTEMPT_SECONDS,
                    limits: httpx.Limits | None = None) -> httpx.Client:
    """An HTTP client whose connections go only where the policy allows, that never follows
    redirects nor a proxy from the environment, and keeps to each attempt's deadline."""
    limits = limits or httpx.Limits(max_connections=32, max_keepalive_connections=16)
    return httpx.Client(transport=GuardedTransport(allow_private, limits), timeout=timeout,
                        follow_redirects=False, trust_env=False)


def failure_reason(exc: BaseException) -> str | None:
    """What the destination policy or the name lookup said, when `exc` (from httpx) comes from
    either: a refused address, or a host that does not resolve."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, DestinationRefused | NameNotResolved):
            return str(cause)
        cause = cause.__cause__ or cause.__context__
    return None


# -- custom headers ---------------------------------------------------------------------

SIGNATURE_HEADERS = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature"})
FRAMING_HEADERS = frozenset({"host", "connection", "transfer-encoding", "te", "trailer", "upgrade", "keep-alive",
                             "expect"})
MAX_HEADERS = 20
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
_VISIBLE = re.compile(r"[\x20-\x7e]{0,1000}")


def header_refusal(name: object, value: object) -> str | None:
    """Why a custom header may not be sent, or None."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        return f"header name {str(name)[:40]!r} is not a valid HTTP header name"
    lower = name.lower()
    if lower in SIGNATURE_HEADERS:
        return f"header {name} is set by rxdesk and cannot be replaced"
    if lower in FRAMING_HEADERS or lower.startswith(("content-", "proxy-")):
        return f"header {name} frames the request or the connection; rxdesk sets it itself"
    if not isinstance(value, str) or not _VISIBLE.fullmatch(value):
        return (f"header {name}: the value must be visible ASCII characters and spaces, "
                "at most 1000 (no accents, tabs or line breaks)")
    return None


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """A subscription's custom headers, checked by the rules above (values trimmed)."""
    if not isinstance(headers, dict):
        raise ValidationFailed("headers must be NAME=VALUE pairs")
    if len(headers) > MAX_HEADERS:
        raise ValidationFailed(f"at most {MAX_HEADERS} custom headers")
    clean: dict[str, str] = {}
    for name, value in headers.items():
        why = header_refusal(name, value.strip() if isinstance(value, str) else value)
        if why:
            raise ValidationFailed(why)
        if name.lower() in {k.lower() for k in clean}:
            raise ValidationFailed(f"header {name} is given twice")
        clean[name] = value.strip()
    return clean
