"""The client's windows and what it remembers between runs, as pure state."""

from __future__ import annotations

import json
from pathlib import Path

from roles.client_state import MAX_PEERS, ClientState, Memory
from roles.client_windows import Windows, day_of
from transport import codec

DAY = 86_400.0
T0 = 1_700_000_000.0


def test_lines_go_to_their_window_and_the_others_count_them() -> None:
    w = Windows(now=lambda: T0)
    assert w.add("", "hello") == ["hello"]  # the status window is current
    assert w.add("#geral", "a", T0) == []
    assert w.add("#geral", "b", T0, mention=True) == []
    assert w.add("bob", "c", T0, unread=False) == []
    assert w.status_bar() == "[1:status] 2:#geral(2!) 3:bob"
    window = w.switch(2)
    assert window is not None and list(window.lines) == ["a", "b"]
    assert w.status_bar() == "1:status [2:#geral] 3:bob"
    assert w.add("#geral", "d", T0) == ["d"]
    assert w.switch(4) is None and w.switch(0) is None


def test_a_date_change_inside_a_window_gets_a_separator() -> None:
    w = Windows(now=lambda: T0)
    w.switch_to(w.open("#geral").key)
    assert w.add("#geral", "yesterday", T0 - DAY) == [f"--- {day_of(T0 - DAY)} ---", "yesterday"]
    assert w.add("#geral", "again", T0 - DAY) == ["again"]
    assert w.add("#geral", "today", T0) == [f"--- {day_of(T0)} ---", "today"]


def test_closing_a_window_keeps_the_current_one_sensible() -> None:
    w = Windows()
    for key in ("#a", "#b", "#c"):
        w.open(key)
    w.switch(3)  # #b
    w.close("#a")
    assert w.active.key == "#b"
    w.close("#b")
    assert w.active.key == "" and w.status_bar() == "[1:status] 2:#c"
    w.close("")  # the status window stays
    assert len(w.windows) == 2


def test_memory_round_trips_per_user_and_survives_a_damaged_file(tmp_path: Path) -> None:
    state = ClientState(tmp_path)
    assert state.load("ana") == Memory()
    peers = [f"p{i}" for i in range(MAX_PEERS + 5)]
    state.save("ana", Memory(["geral"], peers, 42))
    state.save("bob", Memory(["dev"], [], 0))
    assert state.load("ana") == Memory(["geral"], peers[-MAX_PEERS:], 42)
    assert state.load("bob").channels == ["dev"]
    raw = json.loads((tmp_path / "client-state.json").read_text())
    raw["ana"]["seen_clock"] = "soon"
    raw["ana"]["channels"] = ["ok", 7, None]
    (tmp_path / "client-state.json").write_text(json.dumps(raw))
    assert state.load("ana") == Memory(["ok"], peers[-MAX_PEERS:], 0)
    (tmp_path / "client-state.json").write_text("{not json")
    assert state.load("ana") == Memory()
    ClientState(None).save("ana", Memory(["x"]))  # remembers nothing, fails nothing


def test_replies_are_read_flat_and_error_services_are_errors() -> None:
    assert codec.reply_data({"service": "users", "data": {"users": ["a"]}}) == {"users": ["a"]}
    flat = {"service": "history", "status": "OK", "messages": [], "timestamp": 1.0, "clock": 3}
    assert codec.reply_data(flat) == {"status": "OK", "messages": []}
    error = codec.reply_data({"service": "error", "data": {"message": "bad channel"}})
    assert error["status"] == "erro" and error["description"] == "bad channel"
    assert codec.reply_data({"service": "erro", "data": "boom"})["description"] == "boom"
    assert codec.reply_data({"service": "error", "data": {"status": "OK"}})["status"] == "erro"
