"""`bbs status` with no reference to talk to: which endpoint it tried, where that came from,
why it failed, and how to point it elsewhere."""

from __future__ import annotations

import io
import json

from ops import status
from tests.support import free_base_port


def run_status(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return status.run(list(argv), out=out), out.getvalue()


def test_a_reference_whose_name_does_not_resolve_is_named_with_a_way_out(monkeypatch):
    monkeypatch.setenv("BBS_REFERENCE", "tcp://reference.invalid:5559")
    code, text = run_status()
    assert code == 1
    first, *hints = text.splitlines()
    assert first.startswith("reference tcp://reference.invalid:5559 (from BBS_REFERENCE)")
    assert "the host name 'reference.invalid' does not resolve here" in first
    assert any("--reference tcp://HOST:PORT" in line for line in hints)
    assert any("tcp://127.0.0.1:5559" in line for line in hints)


def test_a_reference_that_does_not_answer_says_so_and_where_it_came_from(monkeypatch):
    monkeypatch.delenv("BBS_REFERENCE", raising=False)
    endpoint = f"tcp://127.0.0.1:{free_base_port(1)}"
    code, text = run_status("--reference", endpoint, "--timeout", "0.3")
    assert code == 1
    assert text.startswith(f"reference {endpoint} (from --reference): UNREACHABLE: no answer")


def test_the_reason_is_in_the_json_too():
    code, text = run_status("--reference=tcp://reference.invalid:5559", "--json")
    assert code == 1
    document = json.loads(text)
    assert document["reference_up"] is False
    assert "does not resolve" in document["reference_error"]
