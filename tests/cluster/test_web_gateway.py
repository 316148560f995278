"""`bbs web`'s WebSocket contract against a real cluster: requests as the logged-in user,
error frames that leave the socket open, exact-topic fan-out, one session per socket."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import aiohttp
import pytest

from config.timing import DEFAULT_TIMING
from roles.cluster import Cluster, free_base_port
from tests.support import start_cluster, wait_for
from tests.web_support import Browser, start_web

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    cluster = start_cluster(tmp_path_factory.mktemp("web"), servers=1)
    try:
        yield cluster, start_web(cluster)
    finally:
        cluster.stop()


def run(url: str, scenario, browsers: int = 1) -> None:
    """Run `scenario(*browsers)` with that many WebSockets open to the gateway."""

    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            sockets = [await http.ws_connect(url + "ws") for _ in range(browsers)]
            try:
                await scenario(*(Browser(ws) for ws in sockets))
            finally:
                for ws in sockets:
                    await ws.close()

    asyncio.run(main())


def test_the_page_is_served_with_a_policy_that_runs_only_its_own_scripts(web):
    _, url = web
    with urllib.request.urlopen(url) as response:
        page = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert '<script src="/static/app.js"' in page
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    with urllib.request.urlopen(url + "static/app.js") as response:
        assert "innerHTML" not in response.read().decode()


def test_junk_gets_an_error_frame_and_the_socket_keeps_serving(web):
    _, url = web

    async def scenario(b: Browser) -> None:
        for junk in ("not json", "[1, 2]", '{"service": "drop_tables"}', '{"data": 3}'):
            await b.send_text(junk)
        await b.ws.send_bytes(b"\x00\x01")
        await b.until(lambda: len(b.anonymous) == 5)
        assert all(set(f) == {"error"} and f["error"] for f in b.anonymous)
        assert "not JSON" in b.anonymous[0]["error"]
        assert "unknown service 'drop_tables'" in b.anonymous[2]["error"]
        bad_id = await b.call("users", id_ignored=1)  # unknown fields are not forwarded
        assert bad_id["data"]["users"] is not None
        refused = await b.call("publish", channel="x", message="hi")
        assert refused["service"] == "publish" and "log in first" in refused["error"]
        assert (await b.call("subscribe", channel="bad name"))["error"]
        ok = await b.call("login", user="junkie")
        assert ok == {"service": "login", "data": ok["data"], "id": ok["id"]}
        assert ok["data"]["status"] == "sucesso"

    run(url, scenario)


def test_requests_act_as_the_logged_in_user_and_posts_arrive_live(web):
    _, url = web

    async def scenario(ana: Browser, bob: Browser) -> None:
        assert (await ana.call("login", user="ana"))["data"]["status"] == "sucesso"
        assert (await bob.call("login", user="bob"))["data"]["status"] == "sucesso"
        await ana.call("channel", channel="lobby")
        assert (await bob.call("subscribe", channel="lobby"))["data"]["status"] == "OK"
        # `user` names someone else: the gateway posts as the socket's user all the same.
        posted = await ana.call("publish", channel="lobby", message="hello", user="bob")
        assert posted["data"]["status"] == "OK"
        await bob.until(lambda: bob.deliveries)
        (frame,) = bob.deliveries
        assert frame["topic"] == "lobby"
        assert frame["message"]["user"] == "ana" and frame["message"]["message"] == "hello"
        assert frame["message"]["kind"] == "channel" and frame["message"]["clock"] > 0
        sent = await bob.call("message", dst="ana", message="psst", src="mallory")
        assert sent["data"]["status"] == "OK"
        await ana.until(lambda: ana.deliveries)
        assert ana.deliveries[0]["message"]["user"] == "bob"
        assert ana.deliveries[0]["message"]["kind"] == "private"
        who = await bob.call("who", user="mallory")  # asks as bob, whatever it says
        assert {"ana", "bob"} <= set(who["data"]["online"])
        assert "mallory" not in who["data"]["online"]
        assert {"ana", "bob"} <= set((await ana.call("users"))["data"]["online"])
        history = await ana.call("history", peer="bob")
        assert [m["message"] for m in history["data"]["messages"]] == ["psst"]
        page = await bob.call("history", channel="lobby", limit=1)
        older = await bob.call(
            "history", channel="lobby", before_clock=page["data"]["messages"][0]["clock"]
        )
        assert older["data"]["messages"] == []

    run(url, scenario, browsers=2)


def test_a_browser_never_gets_another_users_private_messages(web):
    """`anna` subscribes to a channel named after `ann` and to the prefix `an`: ZeroMQ would
    hand her ann's private messages (prefix match, shared topic names); the gateway does not."""
    _, url = web

    async def scenario(ann: Browser, anna: Browser, sender: Browser) -> None:
        for b, name in ((ann, "ann"), (anna, "anna"), (sender, "carol")):
            assert (await b.call("login", user=name))["data"]["status"] == "sucesso"
        await anna.call("subscribe", channel="ann")
        await anna.call("subscribe", channel="an")
        for dst in ("ann", "anna"):
            await sender.call("message", dst=dst, message=f"for {dst}")
        await ann.until(lambda: ann.deliveries)
        await anna.until(lambda: anna.deliveries)
        await asyncio.sleep(0.5)  # give a wrong delivery the time to show up
        await ann.call("users")
        await anna.call("users")
        assert [d["message"]["message"] for d in ann.deliveries] == ["for ann"]
        assert [d["message"]["message"] for d in anna.deliveries] == ["for anna"]
        await anna.call("unsubscribe", channel="ann")

    run(url, scenario, browsers=3)


def test_one_session_per_socket(web):
    _, url = web

    async def scenario(b: Browser) -> None:
        assert (await b.call("login", user="dora"))["data"]["status"] == "sucesso"
        other = await b.call("login", user="eve")
        assert "one session per socket" in other["error"]
        assert (await b.call("login", user="dora"))["data"]["status"] == "sucesso"
        posted = await b.call("publish", channel="dora-room", message="x")
        assert posted["data"]["status"] == "erro"  # unknown channel: the cluster's own answer

    run(url, scenario)


def test_a_claimed_name_asks_for_its_password_and_the_token_stays_in_the_gateway(web):
    _, url = web

    async def scenario(owner: Browser, intruder: Browser) -> None:
        claimed = await owner.call("login", user="fay", password="s3cret-pass")
        assert claimed["data"]["status"] == "sucesso" and "token" not in claimed["data"]
        await owner.call("channel", channel="fays")
        assert (await owner.call("publish", channel="fays", message="mine"))["data"][
            "status"
        ] == "OK"
        asked = await intruder.call("login", user="fay")
        assert asked["data"]["claimed"] is True and asked["data"]["status"] == "erro"
        refused = await intruder.call("publish", channel="fays", message="forged")
        assert "log in first" in refused["error"]

    run(url, scenario, browsers=2)


def test_the_contract_frames_are_json_objects(web):
    _, url = web

    async def scenario(b: Browser) -> None:
        await b.send_text(json.dumps({"service": "users", "data": {}, "id": "x" * 65}))
        await b.until(lambda: b.anonymous)
        assert "id longer than 64" in b.anonymous[0]["error"]

    run(url, scenario)


def test_a_cluster_that_does_not_answer_gets_an_error_frame_after_the_retries(tmp_path):
    """Nothing listens at the broker's address: the request is retried Lazy-Pirate style,
    then answered with an error frame naming the service and id; the socket stays open."""
    broker, proxy, port = (free_base_port(1) for _ in range(3))
    web_proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "roles.cli",
            "web",
            f"--broker=tcp://127.0.0.1:{broker}",
            f"--proxy-sub=tcp://127.0.0.1:{proxy}",
            f"--listen=127.0.0.1:{port}",
            f"--log-file={tmp_path / 'web.jsonl'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: urllib.request.urlopen(url, timeout=1).status == 200, what="bbs web")

        async def scenario(b: Browser) -> None:
            started = time.monotonic()
            answer = await b.call("users", timeout=30)
            waited = time.monotonic() - started
            assert answer["service"] == "users" and answer["id"] == 1
            assert "no answer from the cluster" in answer["error"]
            timing = DEFAULT_TIMING
            assert waited >= timing.request_timeout * (timing.request_retries + 1) * 0.9
            subscribed = await b.call("subscribe", channel="still-here")
            assert subscribed["data"]["status"] == "OK"

        run(url, scenario)
    finally:
        web_proc.terminate()
        web_proc.wait(10)
