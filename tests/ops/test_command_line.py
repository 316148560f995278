"""The `bbs` command line as an operator meets it: bad settings are one clear line and never
break `--help`, a bad flag shows its subcommand's usage, help works without the extras."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def bbs(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roles.cli", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("role", "env", "said"),
    [
        ("broker", {"BBS_LOG_FORMAT": "xml"}, "BBS_LOG_FORMAT='xml' is not one of json, console"),
        ("server", {"BBS_CLOCK_SKEW": "abc"}, "BBS_CLOCK_SKEW='abc' is not a number"),
        ("bot", {"BBS_BOT_INTERVAL": "abc"}, "BBS_BOT_INTERVAL='abc' is not a number"),
        ("up", {"BBS_SERVERS": "three"}, "BBS_SERVERS='three' is not a whole number"),
    ],
)
def test_a_bad_setting_is_one_clear_line_and_starts_nothing(role, env, said) -> None:
    done = bbs(role, env=env)
    assert done.returncode == 2
    assert said in done.stderr.splitlines()[-1]
    assert done.stderr.startswith(f"usage: bbs {role}")
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_bad_flag_value_is_refused_like_a_bad_variable() -> None:
    done = bbs("proxy", "--log-format=xml")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith("'xml' is not one of json, console")


@pytest.mark.parametrize("args", [("--help",), ("server", "--help"), ("bot", "--help")])
def test_bad_settings_never_break_help(args) -> None:
    bad = {"BBS_CLOCK_SKEW": "abc", "BBS_BOT_INTERVAL": "abc", "BBS_LOG_FORMAT": "xml"}
    done = bbs(*args, env=bad)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: bbs")


@pytest.mark.parametrize("role", ["server", "client", "bot", "up", "logs", "status"])
def test_a_bad_flag_prints_the_usage_of_its_subcommand(role) -> None:
    done = bbs(role, "--no-such-flag")
    assert done.returncode == 2
    assert done.stderr.startswith(f"usage: bbs {role} ")
    assert "unrecognized arguments: --no-such-flag" in done.stderr


def test_bench_help_works_without_the_bench_extra() -> None:
    # None in sys.modules makes `import psutil` / `import matplotlib` raise ImportError
    blocked = (
        "import sys\n"
        "sys.modules.update(psutil=None, matplotlib=None)\n"
        "from roles.cli import main\n"
        "main(['bench', '--help'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: bbs bench")


def test_a_base_port_that_is_neither_a_port_nor_auto_is_refused() -> None:
    done = bbs("up", env={"BBS_BASE_PORT": "65534"})  # the block would pass 65535
    assert done.returncode == 2
    assert "--base-port '65534' is neither a port for the whole block nor auto" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
