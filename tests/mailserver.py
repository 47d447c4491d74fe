"""A real SMTP server (aiosmtpd) on a free local port, and the mailbox most tests give it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email import policy as email_policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.helpers import free_port


@contextmanager
def serving(handler: object) -> Iterator[int]:
    """An SMTP server for `handler` (an aiosmtpd handler) while the block runs; its port."""
    port = free_port("127.0.0.1")
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


class Inbox:
    """Every message the server took, parsed (`received`), with the envelope it came in
    (`envelopes`); `refuse_first` answers the first DATA with a temporary error."""

    def __init__(self, refuse_first: bool = False) -> None:
        self.received: list[Any] = []
        self.envelopes: list[Envelope] = []
        self.refuse_first = refuse_first
        self.datas = 0
        self.port = 0  # where its server listens, once started

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.datas += 1
        parsed = message_from_bytes(envelope.original_content or b"", policy=email_policy.default)
        if self.refuse_first and self.datas == 1:
            self.refused = parsed
            return "451 try again later"
        self.received.append(parsed)
        self.envelopes.append(envelope)
        return "250 OK"
