"""Real receivers for the notifications tests: a webhook (HTTP on port 0) and an SMTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler
from typing import Any

from aiosmtpd.controller import Controller

from tests.http_server import serve_http


@dataclass
class Webhook:
    """What a local webhook received (Apprise's json:// posts), and what it answers."""

    base: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        """The Apprise URL posting JSON here."""
        return "json://" + self.base.removeprefix("http://") + path


class _Hook(BaseHTTPRequestHandler):
    hook: Webhook

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with self.hook.lock:
            status = self.hook.status
            self.hook.posts.append(
                {"path": self.path, "status": status, "json": json.loads(body or b"{}")}
            )
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def webhook() -> Iterator[Webhook]:
    hook = Webhook("")
    with serve_http(_Hook, hook=hook) as base:
        hook.base = base
        yield hook


@dataclass
class Mailbox:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    def url(self, to: str = "me@example.com") -> str:
        """The Apprise URL mailing through this server (plain SMTP, no login)."""
        return f"mailto://127.0.0.1:{self.port}?from=haystack@example.com&to={to}&mode=insecure"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """An aiosmtpd server on 127.0.0.1 and a free port, for the block."""
    box = Mailbox(_free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())
