"""A real HTTP server on 127.0.0.1 that records what it receives (webhooks, the SMS gateway).

Tests take one from the `receiver` fixture; a test that needs a second opens it with
`with Receiver() as other:`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# A receiver that writes its whole response itself (a partner that misbehaves on the wire).
Answer = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Receiver:
    """`answers` is consumed one per request: (status, headers); when empty, `default` answers.
    `answer`, when set, writes the raw response instead (any status line, header or body).
    Set `gate` to an unset Event to make requests wait (a receiver that hangs) until it is set;
    `held` counts the requests that arrived and wait there."""

    default: tuple[int, dict[str, str]] = (200, {})
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    on_request: Callable[[Received], None] | None = None
    gate: threading.Event | None = None
    body: bytes | None = None  # the answer's body, whatever the status (else a small JSON one)
    answer: Answer | None = None
    held: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                item = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                with receiver.lock:  # received once read, whenever (or whether) it is answered
                    receiver.received.append(item)
                gate = receiver.gate
                if gate is not None:
                    with receiver.lock:
                        receiver.held += 1
                    gate.wait(30)
                    with receiver.lock:
                        receiver.held -= 1
                with receiver.lock:
                    status, headers = receiver.answers.pop(0) if receiver.answers else receiver.default
                if receiver.on_request:
                    receiver.on_request(item)
                if receiver.answer is not None:
                    try:
                        receiver.answer(self)
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the client stopped reading, as it should
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                body = receiver.body if receiver.body is not None else (
                    b'{"ok": true}' if 200 <= status < 300 else b'{"error": "nope"}')
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.request_queue_size = 128  # a real receiver's backlog, not socketserver's 5
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # serve_forever looks for a shutdown request between polls: 0.5 s by default, paid by
        # every test that closes a receiver.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        self.closed = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
