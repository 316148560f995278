"""Log lines echo bounded text, and log files rotate instead of growing without end."""

from __future__ import annotations

import json
from pathlib import Path

from config import logging as bbs_logging


def test_a_huge_request_field_is_cut_in_the_log_line() -> None:
    event = {"event": "request_refused", "reason": "x" * 1_000_000, "small": "ok", "n": 7}
    line = bbs_logging.cap_texts(None, "warning", event)
    assert (line["small"], line["n"]) == ("ok", 7)
    assert len(line["reason"]) < 400 and line["reason"].endswith("(999700 more characters)")


def test_a_traceback_keeps_more_room() -> None:
    trace = "Traceback\n" + "  frame\n" * 500
    line = bbs_logging.cap_texts(None, "error", {"event": "failed", "exception": trace})
    assert line["exception"] == trace


def test_a_log_file_rotates_and_keeps_three_older_files(tmp_path: Path) -> None:
    path = tmp_path / "server-0.jsonl"
    log = bbs_logging.RotatingFile(path, max_bytes=1000, keep=3)
    for i in range(100):
        log.write(f'{{"n": {i}, "pad": "{"p" * 80}"}}\n')
    log.flush()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["server-0.1.jsonl", "server-0.2.jsonl", "server-0.3.jsonl", "server-0.jsonl"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    newest = [json.loads(t)["n"] for t in path.read_text().splitlines()]
    assert newest[-1] == 99  # the newest lines are in the live file, whole
    older = [json.loads(t)["n"] for t in (tmp_path / "server-0.1.jsonl").read_text().splitlines()]
    assert older[-1] == newest[0] - 1  # nothing lost between the live file and the last rotation


def test_a_reopened_log_file_counts_what_it_already_holds(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("x" * 900 + "\n")
    log = bbs_logging.RotatingFile(path, max_bytes=1000)
    log.write("y" * 200 + "\n")
    log.flush()
    assert (tmp_path / "a.1.jsonl").read_text() == "x" * 900 + "\n"
