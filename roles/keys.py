"""`bbs keys --out DIR`: create the cluster's CURVE key pairs and allow-list (secure mode)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from transport import keys


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bbs keys", description=__doc__)
    parser.add_argument("--out", required=True, help="directory to create (must be empty)")
    ns = parser.parse_args(argv)
    try:
        out = keys.create(Path(ns.out))
    except FileExistsError as exc:
        sys.exit(f"bbs keys: {exc}")
    print(f"keys written to {out}/ (secrets 0600); give every role --keys {out}")
    for role in keys.ROLES:
        print(f"  {role:10} {keys.ClusterKeys(out).public(role).decode()}")
