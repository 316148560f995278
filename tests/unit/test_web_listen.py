"""`bbs web --listen`: HOST:PORT, IPv6 in brackets, a clear refusal otherwise."""

from __future__ import annotations

import subprocess
import sys

import pytest

from roles.web import parse_listen


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:8443", ("::1", 8443)),
        (":9000", ("0.0.0.0", 9000)),
    ],
)
def test_host_and_port(listen, expected):
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["8080", "host:", "host:http", "host:70000"])
def test_what_is_not_host_and_port_is_refused(listen):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen(listen)


def test_the_command_says_so_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "roles.cli", "web", "--listen", "nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "bbs web: --listen must be HOST:PORT, not 'nowhere'"
