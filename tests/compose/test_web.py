"""The compose deployment's web gateway: the page on the published port, and a browser's
WebSocket logging in and posting through the containers."""

from __future__ import annotations

import asyncio
import urllib.request

import aiohttp
import pytest

from tests.compose.harness import ComposeCluster
from tests.support import wait_for
from tests.web_support import Browser

pytestmark = pytest.mark.compose


def test_the_page_and_its_websocket_on_the_published_port(cluster: ComposeCluster) -> None:
    url = f"http://127.0.0.1:{cluster.env['BBS_WEB_PORT']}/"
    page = wait_for(lambda: urllib.request.urlopen(url, timeout=2).read(), timeout=60)
    assert b"/static/app.js" in page

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http, http.ws_connect(url + "ws") as ws:
            b = Browser(ws)
            assert (await b.call("login", user="webber", timeout=30))["data"]["status"] == "sucesso"
            await b.call("channel", channel="web-compose")
            await b.call("subscribe", channel="web-compose")
            posted = await b.call("publish", channel="web-compose", message="from a browser")
            assert posted["data"]["status"] == "OK"
            await b.until(lambda: b.deliveries, timeout=30)
            assert b.deliveries[0]["message"]["message"] == "from a browser"

    asyncio.run(scenario())
