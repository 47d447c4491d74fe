"""What rxdesk needs of smtplib beyond its public API: one SMTP client whose socket the
attempt's deadline can shut from another thread, before and while it connects, and that
knows when the email it sends went out whole (from then on a lost answer leaves the outcome
unknown, and the email must not be sent again).

smtplib offers no public way to reach the socket while `connect()` runs (a server that drips
its greeting a byte at a time holds that call for as long as it likes), nor to name the server
for the TLS certificate check when the client is made before it connects. Two private names
do it, and only here:

- `SMTP._get_socket(host, port, timeout)`: where `connect()` makes its socket (and
  `SMTP_SSL` wraps it in TLS); overridden to keep the raw socket for `abort()`.
- `SMTP._host`: the name `starttls()` and `SMTP_SSL` check the certificate against; set by
  `connect()` here, as the constructor would have.

And one public method used in a way its documentation does not promise:

- `SMTP.data(msg)` sends the DATA command with `send()`, then, after the 354 answer, the
  whole content ending in `CRLF.CRLF` with one more `send()`: that second call returning is
  the moment the email was handed over.

tests/unit/test_smtplib_gaps.py fails loudly when a Python upgrade changes any of them.
"""

from __future__ import annotations

import smtplib
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Buffer  # what smtplib's stubs type messages as


class AbortableSMTP(smtplib.SMTP):
    """An SMTP client whose socket `abort()` can shut from another thread, at any point."""

    _expired = False
    _raw: socket.socket | None = None
    _in_data = False
    # The email of the running DATA went out whole (reset by each `data()`).
    handed_over = False

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        self.handed_over = False
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def send(self, s: Buffer | str) -> None:
        super().send(s)
        if self._in_data and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.handed_over = True

    def connect(self, host: str = "localhost", port: int = 0, source_address: object = None) -> tuple[int, bytes]:
        self._host = host
        return super().connect(host, port, source_address)  # type: ignore[arg-type]

    def _get_socket(self, host, port, timeout):  # type: ignore[no-untyped-def]
        sock = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        self._raw = sock
        if self._expired:
            sock.close()
            raise TimeoutError("the attempt's deadline passed")
        return sock

    def abort(self) -> None:
        self._expired = True
        for sock in (getattr(self, "sock", None), self._raw):
            if sock is not None:
                try:
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the fd itself, TLS or not
                except OSError:
                    pass


class AbortableSMTPSSL(AbortableSMTP, smtplib.SMTP_SSL):
    """The same over implicit TLS (`smtps://`)."""
