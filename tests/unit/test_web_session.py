"""A browser session's writes (roles/web.py) with a fake socket: frames go out whole and in
order, and a browser that stops reading is closed instead of buffered without end."""

from __future__ import annotations

import asyncio
import json

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


class FakeGateway:
    def __init__(self) -> None:
        self.follows: list[tuple[str, bool]] = []

    def follow(self, session: object, topic: str, on: bool = True) -> None:
        self.follows.append((topic, on))


def test_a_browser_subscribes_to_a_bounded_number_of_channels(monkeypatch):
    monkeypatch.setattr("roles.web.MAX_CHANNELS", 2)

    async def scenario() -> list[bytes]:
        transport, gateway = FakeTransport(), FakeGateway()
        session = BrowserSession(gateway, FakeSocket(), transport)  # type: ignore[arg-type]
        for name in ("a", "b", "a", "c"):
            await session.serve(json.dumps({"service": "subscribe", "data": {"channel": name}}))
        await session.serve(json.dumps({"service": "unsubscribe", "data": {"channel": "a"}}))
        await session.serve(json.dumps({"service": "subscribe", "data": {"channel": "c"}}))
        assert gateway.follows == [("a", True), ("b", True), ("a", True), ("a", False), ("c", True)]
        return transport.written

    written = [json.loads(w[2:]) for w in asyncio.run(scenario())]
    assert "at most 2 channels" in written[3]["error"]
    statuses = [w.get("data", {}).get("status") for w in written]
    assert statuses == ["OK", "OK", "OK", None, "OK", "OK"]
