"""A browser session's writes (roles/web.py) with a fake socket: frames go out whole and in
order, and a browser that stops reading is closed instead of buffered without end."""

from __future__ import annotations

import asyncio

from roles.web import MAX_BUFFERED, BrowserSession
from transport import browser


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.buffered = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing


class FakeSocket:
    def __init__(self) -> None:
        self.closed_with: tuple[int, bytes] | None = None

    async def close(self, code: int, message: bytes) -> None:
        self.closed_with = (code, message)


def test_frames_are_written_whole_in_order_and_a_browser_that_stops_reading_is_closed():
    async def scenario() -> None:
        transport, ws = FakeTransport(), FakeSocket()
        session = BrowserSession(None, ws, transport)  # type: ignore[arg-type]
        session.push('{"a": 1}')
        session.send(browser.text_frame('{"b": 2}'))
        assert transport.written == [b'\x81\x08{"a": 1}', b'\x81\x08{"b": 2}']
        transport.buffered = MAX_BUFFERED + 1
        session.push('{"c": 3}')
        await asyncio.sleep(0)
        assert ws.closed_with == (1013, b"too slow")
        transport.buffered = 0
        session.push('{"d": 4}')  # closing: nothing more is written
        assert len(transport.written) == 2

    asyncio.run(scenario())


def test_nothing_is_written_to_a_closing_socket():
    transport = FakeTransport()
    transport.closing = True
    session = BrowserSession(None, FakeSocket(), transport)  # type: ignore[arg-type]
    session.push("{}")
    assert transport.written == []
