"""`bbs web`: the page and its WebSocket (`/ws`), each browser one client of the cluster.

aiohttp serves the static page (roles/web_page/, shipped as package data) and the WebSocket
contract of docs/protocol.md ("Browsers"); transport/browser.py parses and builds the
frames, roles/web_gateway.py is the one pump every browser session shares.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from actors.base import Node
from actors.session import Unreachable
from roles.web_gateway import Gateway
from transport import browser, protocol
from transport.codec import FieldError
from transport.keys import Curve
from transport.names import normal_name
from transport.protocol import Service

log = structlog.get_logger()
PAGE = Path(__file__).resolve().parent / "web_page"
IN_FLIGHT = 32  # requests of one browser queued in its lane at once
MAX_CHANNELS = 1_000  # channels one browser may subscribe (each is a topic of the gateway)
MAX_BUFFERED = 4 << 20  # bytes a browser has not read yet; past it it is too slow: closed
GATEWAY = web.AppKey("gateway", Gateway)
SOCKETS = web.AppKey("sockets", set)
HEADERS = {
    # The page loads nothing from elsewhere and runs no inline script: an injected tag
    # could not run even if the page ever rendered one as HTML (it renders text only).
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_lanes = itertools.count(1)


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8080` for IPv6) -> (host, port); ValueError if it is not one."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen must be HOST:PORT, not {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


class BrowserSession:
    """One WebSocket: at most one logged-in user, its channels, its requests in order."""

    def __init__(
        self, gateway: Gateway, ws: web.WebSocketResponse, transport: asyncio.Transport | None
    ) -> None:
        self.gateway = gateway
        self.ws = ws
        self.lane = f"browser-{next(_lanes)}"
        self.user = ""
        self.token = ""
        self.transport = transport
        self.closer: asyncio.Future | None = None
        self.slots = asyncio.Semaphore(IN_FLIGHT)
        self.calls: set[asyncio.Future] = set()  # requests in flight, cancelled on close
        self.channels: set[str] = set()

    def push(self, frame: str) -> None:
        self.send(browser.text_frame(frame))

    def send(self, wire: bytes) -> None:
        """Write one encoded WebSocket frame now (the event loop's thread is the only writer
        of the socket, so frames never interleave). A delivery is encoded once for every
        browser: this is the fan-out's whole cost per browser, one write. A browser that
        does not read lets the socket's buffer grow: past MAX_BUFFERED it is closed."""
        transport = self.transport
        if transport is None or transport.is_closing() or self.closer is not None:
            return
        if transport.get_write_buffer_size() > MAX_BUFFERED:
            log.warning("browser_too_slow", lane=self.lane, user=self.user)
            self.closer = asyncio.ensure_future(self.ws.close(code=1013, message=b"too slow"))
            return
        transport.write(wire)

    async def serve(self, text: str) -> None:
        """One frame. A login is served before the next frame is read (what follows it acts
        as its user); other requests are pipelined into the session's lane, which sends
        them to the cluster one at a time, in order (at most IN_FLIGHT queued: then this
        socket is not read until one is answered)."""
        frame = browser.parse_frame(text)
        if isinstance(frame, browser.Refused):
            self.push(frame.frame)
        elif isinstance(frame, browser.TopicChange):
            name = browser.SUBSCRIBE if frame.on else browser.UNSUBSCRIBE
            if frame.on and frame.channel not in self.channels:
                if len(self.channels) >= MAX_CHANNELS:
                    text = f"at most {MAX_CHANNELS} channels per socket: unsubscribe one first"
                    self.push(browser.error_frame(text, name, frame.id))
                    return
                self.channels.add(frame.channel)
            elif not frame.on:
                self.channels.discard(frame.channel)
            self.gateway.follow(self, frame.channel, frame.on)
            self.push(
                browser.reply_frame(name, {"status": "OK", "channel": frame.channel}, frame.id)
            )
        elif frame.service == Service.LOGIN:
            await self._guarded(frame)
        else:
            await self.slots.acquire()
            task = asyncio.ensure_future(self._guarded(frame))
            self.calls.add(task)
            task.add_done_callback(self._call_done)

    def _call_done(self, task: asyncio.Future) -> None:
        self.calls.discard(task)
        self.slots.release()

    async def _guarded(self, frame: browser.ClusterCall) -> None:
        """Whatever goes wrong, the socket stays open and says why."""
        try:
            await self._call(frame)
        except Exception as exc:
            log.exception("browser_frame_failed", lane=self.lane, service=frame.service)
            self.push(
                browser.error_frame(
                    f"the gateway could not serve this: {exc}", frame.service, frame.id
                )
            )

    async def _call(self, frame: browser.ClusterCall) -> None:
        service, data = frame.service, dict(frame.data)
        refusal = self._as_user(service, data)
        if refusal:
            self.push(browser.error_frame(refusal, service, frame.id))
            return
        try:
            reply = await self.gateway.call(
                self.lane, service, protocol.client_request(service, data, self.token)
            )
        except Unreachable as exc:
            self.push(browser.error_frame(str(exc), service, frame.id))
            return
        if service == Service.LOGIN:
            reply = self._logged_in(data, reply)
        self.push(browser.reply_frame(service, reply, frame.id))

    def _as_user(self, service: str, data: dict[str, Any]) -> str:
        """Fill in who acts (always this socket's user); the reason to refuse, or ''."""
        if service == Service.LOGIN:
            name = data.get("user")
            if self.user and (not isinstance(name, str) or _normal(name) != self.user):
                return (
                    f"this socket is logged in as {self.user}: one session per socket "
                    "(open another connection for another user)"
                )
            return ""
        if service in browser.NAMES_ASKER:
            if self.user:  # keeps the user online (presence) where the cluster counts it
                data["user"] = self.user
            return ""
        if service not in browser.AS_USER or (service == Service.HISTORY and "peer" not in data):
            return ""  # a channel's history is anyone's to read
        if not self.user:
            return f"log in first: {service} acts as the logged-in user"
        if service == Service.PUBLISH or (service == Service.HISTORY and "peer" in data):
            data["user"] = self.user
        elif service == Service.MESSAGE:
            data["src"] = self.user
        return ""

    def _logged_in(self, data: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
        """After a successful login: the socket's user, its token, its private messages.
        The token stays in the gateway (the browser never needs it)."""
        if reply.get("status") != "sucesso" or not isinstance(data.get("user"), str):
            return reply
        user = _normal(data["user"])
        if not user:
            return reply
        self.token = protocol.parse_login_token(reply) or self.token
        if user != self.user:
            self.user = user
            self.gateway.follow(self, user, private=True)
            log.info("browser_logged_in", lane=self.lane, user=user)
        return {k: v for k, v in reply.items() if k != "token"}


def _normal(name: str) -> str:
    try:
        return normal_name(name, "user")
    except FieldError:
        return ""


async def websocket(request: web.Request) -> web.WebSocketResponse:
    # No permessage-deflate: chat frames are small, and compressing each copy of a post for
    # each browser would cost the fan-out more CPU than it saves bytes.
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=browser.MAX_FRAME, compress=False)
    await ws.prepare(request)
    gateway = request.app[GATEWAY]
    session = BrowserSession(gateway, ws, request.transport)
    gateway.attach(session, session.send)
    request.app[SOCKETS].add(ws)
    log.info("browser_connected", lane=session.lane, peer=request.remote)
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await session.serve(message.data)
            elif message.type == WSMsgType.BINARY:
                session.push(browser.error_frame("binary frames are not served: send JSON text"))
    finally:
        gateway.detach(session)
        request.app[SOCKETS].discard(ws)
        for task in list(session.calls):
            task.cancel()
        log.info("browser_disconnected", lane=session.lane, user=session.user)
    return ws


async def index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE / "index.html")


async def _secure_headers(_: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(HEADERS)


def build_app(
    node: Node, broker: str, proxy_sub: str, curve: Curve | None = None
) -> web.Application:
    app = web.Application()
    app[SOCKETS] = set()

    async def gateway(app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        app[GATEWAY] = await loop.run_in_executor(
            None, lambda: Gateway(node, broker, proxy_sub, loop, curve)
        )
        yield
        await loop.run_in_executor(None, app[GATEWAY].close)

    async def going_away(app: web.Application) -> None:
        # 1001: the page reconnects (to this gateway once it is back, or another).
        for ws in list(app[SOCKETS]):
            await ws.close(code=1001, message=b"gateway stopping")

    app.cleanup_ctx.append(gateway)
    app.on_shutdown.append(going_away)
    app.on_response_prepare.append(_secure_headers)
    app.router.add_get("/", index)
    app.router.add_get("/ws", websocket)
    app.router.add_static("/static/", PAGE)
    return app


def serve(
    ns: argparse.Namespace, node: Node, listen: tuple[str, int], curve: Curve | None = None
) -> None:
    host, port = listen
    app = build_app(node, ns.broker, ns.proxy_sub, curve)
    log.info(
        "web_listening", url=f"http://{host}:{port}/", broker=ns.broker, proxy_sub=ns.proxy_sub
    )
    web.run_app(app, host=host, port=port, print=None, handle_signals=True, access_log=None)
