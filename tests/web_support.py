"""`bbs web` in front of a test cluster, and a WebSocket client of the gateway's contract."""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.request
from typing import Any

import aiohttp

from roles.cluster import Cluster, free_base_port
from tests.support import wait_for


def start_web(cluster: Cluster, name: str = "web", port: int = 0) -> str:
    """Start `bbs web` (as one more process of `cluster`, stopped with it) on a free port
    (or `port`); its base URL once it serves the page."""
    port = port or free_base_port(1)
    topology = cluster.topology
    cluster.start_one(
        name,
        [
            "web",
            f"--broker={topology.broker}",
            f"--proxy-sub={topology.proxy_sub}",
            f"--listen=127.0.0.1:{port}",
        ],
    )
    url = f"http://127.0.0.1:{port}/"
    wait_for(lambda: _serves(url), timeout=20, what=f"bbs web on {url}")
    return url


def stop_web(cluster: Cluster, name: str = "web") -> None:
    proc: subprocess.Popen = cluster.procs.pop(name)
    proc.terminate()
    proc.wait(10)


def _serves(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as response:
        return response.status == 200


class Browser:
    """One WebSocket to the gateway: frames sent as dicts, replies matched by `id`,
    deliveries collected."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = 0
        self.deliveries: list[dict[str, Any]] = []
        self.answers: dict[Any, dict[str, Any]] = {}
        self.anonymous: list[dict[str, Any]] = []  # answers without an id (errors of junk)

    async def send_text(self, text: str) -> None:
        await self.ws.send_str(text)

    async def call(self, service: str, timeout: float = 15.0, **data: Any) -> dict[str, Any]:
        """Send one request; the whole answer frame (`data` or `error`)."""
        self.ids += 1
        ident = self.ids
        await self.ws.send_str(json.dumps({"service": service, "data": data, "id": ident}))
        await self.until(lambda: ident in self.answers, timeout)
        return self.answers.pop(ident)

    async def until(self, condition: Any, timeout: float = 15.0) -> None:
        """Read frames until `condition()` holds."""
        async with asyncio.timeout(timeout):
            while not condition():
                message = await self.ws.receive()
                if message.type != aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"socket closed: {message.type} {message.data!r}")
                frame = json.loads(message.data)
                if "topic" in frame:
                    self.deliveries.append(frame)
                elif "id" in frame:
                    self.answers[frame["id"]] = frame
                else:
                    self.anonymous.append(frame)
