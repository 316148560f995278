"""Layers point one way: config <- transport <- actors <- roles <- ops/bench (the pump, an
actor, uses the actor runtime).

Actors see the transport only through its port (and the codec), never the pump or devices.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("config", "transport", "actors", "roles", "ops", "bench")
# What each package may import from the project (itself included).
ALLOWED = {
    "config": {"config"},
    "transport": {"config", "transport"},
    "actors": {"config", "transport", "actors"},
    "roles": {"config", "transport", "actors", "roles"},
    "ops": {"config", "transport", "actors", "roles", "ops"},
    "bench": set(LAYERS),
}
ACTORS_MAY_NOT = ("transport.pump", "transport.devices")
# The pump is itself an actor: it may use the actor runtime (actors.base), nothing else above.
EXCEPTIONS = {"transport/pump.py": {"actors.base"}}


def project_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return [n for n in names if n.split(".")[0] in LAYERS]


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_its_own_layer_and_those_below(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in project_imports(path)
        if name.split(".")[0] not in ALLOWED[package]
        and name not in EXCEPTIONS.get(str(path.relative_to(ROOT)), ())
    ]
    assert wrong == []


def test_actors_see_the_port_never_the_pump() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules("actors")
        for name in project_imports(path)
        if name.startswith(ACTORS_MAY_NOT)
    ]
    assert wrong == []


def test_the_checker_sees_imports_of_every_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import transport.pump\nfrom transport.pump import Pump\n"
        "from . import local\nimport json\n"
        "def f():\n    from roles import cli\n"
    )
    assert project_imports(sample) == ["transport.pump", "transport.pump", "roles"]
