"""The socket ``haystack serve`` shares between its API processes."""

from __future__ import annotations

import asyncio
import socket

import pytest

from haystack_collector.errors import HaystackError
from haystack_collector.serve import _listen


def test_connections_accepted_on_the_shared_socket_send_without_delay() -> None:
    # Without TCP_NODELAY a small response waits out the client's delayed ACK (40 ms).
    listening = _listen("127.0.0.1", 0)
    port = listening.getsockname()[1]
    seen: list[int] = []

    async def scenario() -> None:
        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=listening)
        async with server:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await _reader.read()
            writer.close()

    asyncio.run(scenario())
    [nodelay] = seen
    assert nodelay != 0


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(HaystackError, match=r"could not listen on 127\.0\.0\.1"):
            _listen("127.0.0.1", taken.getsockname()[1])
