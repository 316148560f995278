"""The socket pump actor on real sockets: one thread for commands and socket events, a clean
stop, contained failures, the deadline reply; and its inbox's wake-up pipe."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import pykka
import pytest
import zmq
import zmq.utils.monitor
from structlog.testing import capture_logs

from actors.base import Node
from config.timing import Timing
from roles import reference
from tests.support import RawClient, free_base_port, wait_for
from transport.port import Call, Inbound, Response
from transport.pump import Pump
from transport.pump_inbox import PumpInbox

StartPump = Callable[..., Pump]


@pytest.fixture
def endpoint() -> str:
    return f"tcp://127.0.0.1:{free_base_port(1)}"


@pytest.fixture
def start_pump() -> Iterator[StartPump]:
    pumps: list[Pump] = []

    def start(request_deadline: float = 2.0, idle_peer_socket: float = 60.0) -> Pump:
        timing = Timing(request_deadline=request_deadline, idle_peer_socket=idle_peer_socket)
        pump = Pump.start(Node("test", "p", timing=timing))
        pumps.append(pump)
        return pump

    yield start
    for pump in pumps:
        pump.stop()


def test_commands_and_socket_events_are_handled_in_the_one_pump_thread(
    start_pump: StartPump, endpoint: str
) -> None:
    before = set(threading.enumerate())
    pump = start_pump()
    served: list[threading.Thread] = []
    answered: list[tuple[Response, threading.Thread]] = []

    def on_request(inbound: Inbound) -> None:
        served.append(threading.current_thread())
        pump.reply(inbound, {"status": "OK", "echo": inbound.request.data["n"]})

    pump.serve("s", endpoint, bind=True, hops=1, on_request=on_request)
    pump.ready()
    # A request to itself: the Request command sends on a REQ socket, the ROUTER's event
    # hands it over, the Reply command answers, the REQ socket's event settles the call.
    call = Call(endpoint, "echo", {"n": 7}, timeout=2.0, retries=0)
    pump.request(call, lambda response: answered.append((response, threading.current_thread())))

    (response, settled_in) = wait_for(lambda: answered and answered[0], what="answer")
    assert response.ok and response.data["echo"] == 7
    (pump_thread,) = set(threading.enumerate()) - before
    assert served == [pump_thread] and settled_in is pump_thread


def test_stop_closes_every_socket_and_ends_the_thread(endpoint: str) -> None:
    before = set(threading.enumerate())
    pump = Pump.start(Node("test", "p"))
    pump.serve("s", endpoint, bind=True, hops=1, on_request=lambda inbound: None)
    nobody = f"tcp://127.0.0.1:{free_base_port(1)}"
    pump.request(Call(nobody, "ping", {}, timeout=5.0, retries=0), lambda response: None)
    pump.ready()

    pump.stop()  # returns once the sockets are closed and the context terminated
    assert not pump.ref.is_alive()
    wait_for(lambda: set(threading.enumerate()) <= before, what="the pump thread to end")
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as again:
        again.bind(endpoint)  # the port is free again
    pump.publish("pub", "topic", {})  # a command to a stopped pump is dropped


def test_every_thread_of_a_role_is_an_actor_or_its_scheduler_and_none_outlives_stop(
    endpoint: str,
) -> None:
    before = set(threading.enumerate())
    role = reference.build(Node("reference", "ref"), endpoint)
    try:
        started = {thread.name for thread in set(threading.enumerate()) - before}
        actors = {ref.actor_class.__name__ for ref in pykka.ActorRegistry.get_all()}
    finally:
        role.stop()
    kinds = {name.rsplit("-", 1)[0] for name in started}  # Pykka names a thread Class-N
    assert kinds <= {*actors, "scheduler"}
    assert {"PumpActor", "RegistryActor", "scheduler"} <= kinds
    wait_for(lambda: set(threading.enumerate()) <= before, what="the role's threads to end")


def test_a_failing_handler_does_not_stop_the_pump_and_the_deadline_still_answers(
    start_pump: StartPump, endpoint: str
) -> None:
    pump = start_pump(request_deadline=0.2)

    def on_request(inbound: Inbound) -> None:
        raise RuntimeError("a bug in the handler")

    pump.serve("s", endpoint, bind=True, hops=1, on_request=on_request)
    pump.ready()
    client = RawClient(endpoint)
    try:
        with capture_logs() as logs:
            pump.subscribe("no-such-socket", "topic")  # a failing command
            replies = [client.request("users")["data"] for _ in range(2)]
    finally:
        client.close()

    for reply in replies:
        assert reply["status"] == "erro" and "no answer in time" in reply["message"]
    events = [entry["event"] for entry in logs]
    assert events.count("pump_handler_failed") == 2  # once per failure
    assert events.count("actor_message_failed") == 1
    assert events.count("request_deadline_missed") == 2
    assert pump.ref.is_alive()
    pump.ready()


def test_a_port_in_use_is_raised_by_ready_and_the_pump_still_stops(
    start_pump: StartPump, endpoint: str
) -> None:
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as taken:
        taken.bind(endpoint)
        pump = start_pump()
        pump.serve("s", endpoint, bind=True, hops=1, on_request=lambda inbound: None)
        with pytest.raises(zmq.ZMQError, match="Address already in use"):
            pump.ready()
    assert pump.ref.is_alive()


def test_a_call_nobody_answers_ends_in_a_timeout_after_its_retries(start_pump: StartPump) -> None:
    pump = start_pump()
    done: queue.SimpleQueue[Response] = queue.SimpleQueue()
    nobody = f"tcp://127.0.0.1:{free_base_port(1)}"
    pump.request(Call(nobody, "ping", {}, timeout=0.1, retries=2), done.put)
    response = done.get(timeout=5)
    assert not response.ok and response.error == "timeout"


@pytest.fixture
def sleepy_inbox() -> Iterator[PumpInbox]:
    """An inbox whose poll would sleep a minute: only the wake-up byte can end it early."""
    inbox = PumpInbox()
    inbox.poll_ms = 60_000
    yield inbox
    inbox.close()


def _getter(inbox: PumpInbox, count: int) -> tuple[threading.Thread, queue.SimpleQueue[Any]]:
    got: queue.SimpleQueue[Any] = queue.SimpleQueue()
    thread = threading.Thread(
        target=lambda: [got.put(inbox.get()) for _ in range(count)], name="getter"
    )
    thread.start()
    return thread, got


def test_a_put_wakes_a_get_waiting_in_the_poll(sleepy_inbox: PumpInbox) -> None:
    thread, got = _getter(sleepy_inbox, 1)
    sleepy_inbox.put("message")
    assert got.get(timeout=5) == "message"
    thread.join(5)


def test_no_wake_up_is_lost_when_many_threads_put(sleepy_inbox: PumpInbox) -> None:
    senders, each = 4, 5000
    thread, got = _getter(sleepy_inbox, senders * each)

    def send(sender: int) -> None:
        for n in range(each):
            sleepy_inbox.put((sender, n))

    threads = [threading.Thread(target=send, args=(s,), name=f"put-{s}") for s in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    thread.join(10)  # a lost wake-up would leave a message behind a minute-long poll
    assert not thread.is_alive()
    received = [got.get_nowait() for _ in range(senders * each)]
    for sender in range(senders):  # every message, each sender's in order
        assert [n for s, n in received if s == sender] == list(range(each))


def test_a_call_to_an_endpoint_zeromq_refuses_fails_alone(start_pump: StartPump) -> None:
    pump = start_pump()
    outcomes: list[Response] = []
    pump.request(Call("tcp://*:5560", "clock", {}, 1.0, 0), outcomes.append)
    pump.ready()
    [failed] = wait_for(lambda: outcomes, what="the call settled")
    assert not failed.ok and "cannot connect" in failed.error


def test_requests_beyond_the_pending_bound_are_shed_with_an_erro(
    start_pump: StartPump, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("transport.pump.MAX_PENDING", 2)
    pump = start_pump()
    held: list[Inbound] = []
    pump.serve("s", endpoint, bind=True, hops=1, on_request=held.append)  # answers nobody
    pump.ready()
    clients = [RawClient(endpoint, timeout=5.0) for _ in range(3)]
    try:
        for client in clients[:2]:
            client.sock.send(msgpack.packb({"service": "users", "data": {}}))
        wait_for(lambda: len(held) == 2, what="two requests in progress")
        reply = msgpack.unpackb(clients[2].send_frames([msgpack.packb({"service": "users"})]))
        assert "too many requests" in reply["data"]["description"]
        assert len(held) == 2
    finally:
        for client in clients:
            client.close()


def test_after_a_pause_the_client_backlog_is_refused_not_served(
    start_pump: StartPump, endpoint: str
) -> None:
    pump = start_pump(request_deadline=0.3)
    served: list[Inbound] = []
    pump.serve("clients", endpoint, bind=True, hops=2, on_request=served.append)
    control = f"tcp://127.0.0.1:{free_base_port(1)}"
    blocked, gate = threading.Event(), threading.Event()

    def stall(inbound: Inbound) -> None:  # runs in the pump's thread: it stops, as on SIGSTOP
        blocked.set()
        gate.wait(10)

    pump.serve("control", control, bind=True, hops=1, on_request=stall)
    pump.ready()
    dealer = zmq.Context.instance().socket(zmq.DEALER)  # as the broker talks to a server
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.RCVTIMEO, 5000)
    dealer.connect(endpoint)
    stopper = RawClient(control)
    try:
        stopper.sock.send(msgpack.packb({"service": "stall"}))
        assert blocked.wait(5)
        for n in range(3):
            dealer.send_multipart([f"client-{n}".encode(), b"", msgpack.packb({"service": "x"})])
        time.sleep(0.5)  # the pause itself, longer than the deadline: the fault, not a wait
        gate.set()
        replies = [msgpack.unpackb(dealer.recv_multipart()[-1]) for _ in range(3)]
        assert all("did not run" in r["data"]["description"] for r in replies)
        assert served == []
    finally:
        gate.set()
        stopper.close()
        dealer.close(0)


def test_the_socket_to_a_peer_no_longer_called_is_closed(
    start_pump: StartPump, endpoint: str
) -> None:
    peer = zmq.Context.instance().socket(zmq.ROUTER)  # a peer that answers once
    peer.setsockopt(zmq.LINGER, 0)
    peer.bind(endpoint)
    monitor = peer.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)
    try:
        pump = start_pump(idle_peer_socket=0.2)
        answered: list[Response] = []
        pump.request(Call(endpoint, "ping", {}, 2.0, 0), answered.append)
        frames = peer.recv_multipart()
        peer.send_multipart([*frames[:-1], msgpack.packb({"service": "ping", "data": {}})])
        wait_for(lambda: answered, what="the call answered")
        events = []
        while zmq.EVENT_DISCONNECTED not in events:  # the pump closed its REQ socket
            assert monitor.poll(5000), f"no disconnect, events so far: {events}"
            events.append(zmq.utils.monitor.recv_monitor_message(monitor)["event"])
    finally:
        peer.disable_monitor()
        monitor.close(0)
        peer.close(0)
