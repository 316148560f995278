"""Every option of every role and of `bbs up` has its BBS_* variable, as the README says, and
the README documents no option that does not exist."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from config.settings import BOT_INTERVAL, COMMON, ROLE_OPTIONS
from roles import cluster
from roles.cli import role_parser

README = Path(__file__).resolve().parents[2] / "README.md"
SAMPLES = {str: "sample-value", int: "7", float: "7.5"}


def parsers() -> dict[str, argparse.ArgumentParser]:
    return {**{role: role_parser(role) for role in ROLE_OPTIONS}, "up": cluster.parser()}


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.dest != "help"]


def sample(action: argparse.Action) -> tuple[str, object]:
    """A valid text for the option's variable and the value it must give."""
    opt = action.type.__self__  # every option's type is its Option's parse
    if opt.type is bool:
        return "yes", True
    if opt.choices:
        return opt.choices[-1], opt.choices[-1]
    return SAMPLES[opt.type], opt.type(SAMPLES[opt.type])


@pytest.mark.parametrize("command", [*ROLE_OPTIONS, "up"])
def test_every_option_reads_its_documented_variable(command, monkeypatch) -> None:
    for action in options(parsers()[command]):
        (flag,) = action.option_strings
        env = "BBS_" + flag.removeprefix("--").replace("-", "_").upper()
        assert f"env {env}" in action.help and "default" in action.help, flag
        text, value = sample(action)
        monkeypatch.setenv(env, text)  # read when the parser is built
        assert getattr(parsers()[command].parse_args([]), action.dest) == value, env
        monkeypatch.delenv(env)


def readme_role_flags() -> dict[str, set[str]]:
    """role -> the flags its row of the README's role table names (`all` included)."""
    text = README.read_text()
    table = text[text.index("| role | options (default) |") :]
    table = table[: table.index("\n\n")]
    rows: dict[str, set[str]] = {}
    for row in table.splitlines()[2:]:
        first, rest = row.split("|")[1:3]
        flags = set(re.findall(r"`(--[a-z-]+)`", rest))
        for role in re.findall(r"`bbs (\w+)`", first) or re.findall(r"\b(\w+)\b", first):
            rows.setdefault(role, set()).update(flags)
    return rows


def test_the_readme_documents_only_options_that_exist() -> None:
    rows = readme_role_flags()
    common = rows.pop("all")
    assert set(rows) == set(ROLE_OPTIONS)
    for role, parser in parsers().items():
        flags = {a.option_strings[0] for a in options(parser)}
        documented = rows.get(role, set()) | (common if role in ROLE_OPTIONS else set())
        assert documented <= flags, (role, documented - flags)
        if role != "up":
            assert flags <= documented, (role, "undocumented", flags - documented)


def test_every_variable_compose_sets_is_one_a_role_reads() -> None:
    read = {opt.env for role in ROLE_OPTIONS for opt in (*ROLE_OPTIONS[role], *COMMON)}
    for path in sorted(README.parent.glob("docker-compose*.yml")):
        keys = set(re.findall(r"^\s+(BBS_[A-Z_]+):", path.read_text(), re.MULTILINE))
        assert keys and keys <= read, (path.name, keys - read)


def test_the_bots_post_every_5_s_alike_in_bbs_up_compose_and_bbs_bot() -> None:
    compose = (README.parent / "docker-compose.yml").read_text()
    assert "BBS_BOT_INTERVAL: ${BBS_BOT_INTERVAL:-5}" in compose
    assert BOT_INTERVAL.default == cluster.Topology().bot_interval == 5.0
