"""The web gateway under browsers: N WebSocket sessions (plain aiohttp clients in a few
processes, each logged in as its own user) subscribed to one channel, while 10 more sessions
post to it at a fixed total rate; measured: the post-to-browser delivery latency (from the
poster's send to each session's receipt), whether every session got every post, and the
gateway's CPU and memory (3 replicas behind it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import signal
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.ports import free_base_port
from bench.stats import latency_summary
from bench.topology import ClusterRun

CHANNEL = "webbench"
READY_TIMEOUT = 120.0
POSTERS = 10  # browsers that post (one browser's posts go one at a time, as a client's do)
CONNECTS_AT_ONCE = 50  # a burst of 500 handshakes and logins would only measure the burst
DELIVERY, TEXT = f'{{"topic": "{CHANNEL}"', '"message": "'  # as transport.browser writes them


async def _login_and_subscribe(http: aiohttp.ClientSession, url: str, user: str) -> Any:
    ws = await http.ws_connect(url, max_msg_size=0)
    for frame in (
        {"service": "login", "data": {"user": user}, "id": 1},
        {"service": "subscribe", "data": {"channel": CHANNEL}, "id": 2},
    ):
        await ws.send_str(json.dumps(frame))
        while True:
            answer = json.loads((await ws.receive()).data)
            if answer.get("id") == frame["id"]:
                break
        if "error" in answer or answer["data"].get("status") not in ("sucesso", "OK"):
            raise RuntimeError(f"{user}: {answer}")
    return ws


async def _sessions(url: str, first: int, count: int, conn: Any) -> None:
    latencies: list[float] = []
    counts = [0] * count

    async def read(i: int, ws: Any) -> None:
        # Read as cheaply as a frame can be (this process shares the cores with the gateway):
        # the post's text, `"<poster>.<n> <time sent>"`, is cut out of the frame, not parsed.
        async for message in ws:
            text = message.data
            if text.startswith(DELIVERY):
                sent = float(text.split(TEXT, 1)[1].split('"', 1)[0].split()[1])
                latencies.append(time.time() - sent)
                counts[i] += 1

    # aiohttp's default connector holds 100 connections at most: a browser each here
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        sockets: list[Any] = []
        for start in range(0, count, CONNECTS_AT_ONCE):
            batch = range(first + start, first + min(start + CONNECTS_AT_ONCE, count))
            sockets += await asyncio.gather(
                *(_login_and_subscribe(http, url, f"browser{n}") for n in batch)
            )
        readers = [asyncio.ensure_future(read(i, ws)) for i, ws in enumerate(sockets)]
        conn.send("ready")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # "stop"
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
    conn.send({"latencies": latencies, "counts": counts})


def _child(url: str, first: int, count: int, conn: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    asyncio.run(_sessions(url, first, count, conn))


async def _poster(http: Any, url: str, n: int, rate: float, duration: float) -> dict[str, Any]:
    """One browser posting `rate` messages a second for `duration` s (its requests go one
    at a time to the cluster, as any client's: one REQ connection per browser)."""
    ws = await http.ws_connect(url)
    await ws.send_str(json.dumps({"service": "login", "data": {"user": f"poster{n}"}, "id": 0}))
    await ws.receive()
    sent_at: dict[int, float] = {}
    replies: list[float] = []
    acked = 0

    async def acks() -> None:
        nonlocal acked
        async for message in ws:
            frame = json.loads(message.data)
            if frame.get("service") == "publish" and "data" in frame:
                acked += frame["data"].get("status") == "OK"
                replies.append(time.monotonic() - sent_at.pop(frame["id"]))

    reader = asyncio.ensure_future(acks())
    await asyncio.sleep(n / rate / POSTERS)  # the posters take turns
    started, sent = time.monotonic(), 0
    while (now := time.monotonic()) < started + duration:
        sent += 1
        sent_at[sent] = now
        data = {"channel": CHANNEL, "message": f"{n}.{sent} {time.time():.6f}"}
        await ws.send_str(json.dumps({"service": "publish", "data": data, "id": sent}))
        await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
    await asyncio.sleep(2.0)  # the last replies
    await ws.close()
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    return {"sent": sent, "acked": acked, "replies": replies}


async def _post(url: str, rate: float, duration: float) -> dict[str, Any]:
    """`rate` posts a second to the channel, from POSTERS browsers taking turns."""
    async with aiohttp.ClientSession() as http:
        outs = await asyncio.gather(
            *(_poster(http, url, n, rate / POSTERS, duration) for n in range(POSTERS))
        )
    return {
        "sent": sum(o["sent"] for o in outs),
        "acked": sum(o["acked"] for o in outs),
        "seconds": duration,
        "reply": latency_summary([r for o in outs for r in o["replies"]]),
    }


class _Sampler(threading.Thread):
    """Peak RSS of one process, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.proc.memory_info().rss)


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def _cpu_pressure() -> float | None:
    """% of the last 60 s in which some runnable task of this machine waited for a CPU
    (Linux PSI): what other work on a shared machine does to the figures."""
    try:
        line = Path("/proc/pressure/cpu").read_text().split("\n", 1)[0]
        return float(dict(f.split("=") for f in line.split()[1:])["avg60"])
    except (OSError, KeyError, ValueError):
        return None


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def run(
    sessions: int, rate: float, duration: float, work: Path, processes: int = 2, replicas: int = 3
) -> dict[str, Any]:
    with ClusterRun(replicas, work / "web") as run_:
        run_.channel(CHANNEL)
        port = free_base_port(1)
        web = run_.cluster.start_one(
            "web",
            [
                "web",
                f"--broker={run_.broker}",
                f"--proxy-sub={run_.proxy_sub}",
                f"--listen=127.0.0.1:{port}",
            ],
        )
        page, ws_url = f"http://127.0.0.1:{port}/", f"ws://127.0.0.1:{port}/ws"
        deadline = time.monotonic() + READY_TIMEOUT
        while not _serving(page):
            if time.monotonic() > deadline or web.poll() is not None:
                raise RuntimeError("bbs web did not start")
            time.sleep(0.1)
        gateway = psutil.Process(web.pid)
        rss_idle = gateway.memory_info().rss
        ctx = mp.get_context("spawn")
        children, pipes = [], []
        share = -(-sessions // processes)
        try:
            for p in range(processes):
                count = min(share, sessions - p * share)
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_child, args=(ws_url, p * share, count, child))
                proc.start()
                children.append(proc)
                pipes.append(parent)
            for pipe in pipes:
                if not pipe.poll(READY_TIMEOUT) or pipe.recv() != "ready":
                    raise RuntimeError("web sessions not ready")
            rss_connected = gateway.memory_info().rss
            sampler = _Sampler(web.pid)
            sampler.start()
            cluster0 = run_.cpu_seconds()
            cpu0, load0, t0 = (
                _cpu(gateway),
                sum(_cpu(psutil.Process(c.pid)) for c in children),
                time.monotonic(),
            )
            posted = asyncio.run(_post(ws_url, rate, duration))
            wall = time.monotonic() - t0
            cpu = _cpu(gateway) - cpu0
            cluster = {n: c - cluster0.get(n, 0.0) for n, c in run_.cpu_seconds().items()}
            load = sum(_cpu(psutil.Process(c.pid)) for c in children) - load0
            sampler.done.set()
            for pipe in pipes:
                pipe.send("stop")
            outs = [pipe.recv() for pipe in pipes]
        finally:
            for proc in children:
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
    latencies = [s for out in outs for s in out["latencies"]]
    counts = [c for out in outs for c in out["counts"]]
    row = {
        "sessions": sessions,
        "rate_target": rate,
        "posted_per_s": round(posted["acked"] / posted["seconds"], 1),
        "posts_acked": posted["acked"],
        "posts_sent": posted["sent"],
        "deliveries": len(latencies),
        "complete_sessions": sum(1 for c in counts if c >= posted["acked"]),
        "latency": latency_summary(latencies),
        "publish_reply": posted["reply"],
        "gateway_cpu_percent": round(100.0 * cpu / wall, 1),
        "gateway_rss_mb": {
            "idle": round(rss_idle / 2**20, 1),
            "connected": round(rss_connected / 2**20, 1),
            "peak": round(sampler.peak / 2**20, 1),
        },
        "gateway_kb_per_session": round((rss_connected - rss_idle) / 1024 / max(sessions, 1), 1),
        "load_generator_cpu_percent": round(100.0 * load / wall, 1),
        "cpu_pressure_avg60": _cpu_pressure(),
        "cpu_percent": {n: round(100.0 * c / wall, 1) for n, c in sorted(cluster.items())},
    }
    lat = row["latency"]
    print(
        f"  web {sessions} sessions, {row['posted_per_s']:.0f} posts/s: delivery p50 "
        f"{lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms; "
        f"{row['complete_sessions']}/{sessions} sessions got all {posted['acked']} posts; "
        f"gateway CPU {row['gateway_cpu_percent']} %, RSS {row['gateway_rss_mb']['idle']} -> "
        f"{row['gateway_rss_mb']['peak']} MB ({row['gateway_kb_per_session']} KB/session); "
        f"CPU pressure {row['cpu_pressure_avg60']} %",
        flush=True,
    )
    return row
