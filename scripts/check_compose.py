#!/usr/bin/env python3
"""Validate compose.yaml against the Compose Specification, plus Roster's own expectations.

Usage: python3 scripts/check_compose.py [compose.yaml]

The Compose Specification check is compose-spec's parser (PyCompose.from_yaml),
which rejects unknown keys and bad values and names the line. On top of that we
assert what our deployment relies on: a `postgres` and a `roster` service, both
with a healthcheck, roster waiting for postgres to be healthy, and postgres data
on a named volume.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compose_spec import PyCompose

POSTGRES_DATA = "/var/lib/postgresql/data"


def volume_source(entry: object) -> tuple[str | None, str | None]:
    """Return (source, target) of a service volume in short or long syntax."""
    if isinstance(entry, str):
        parts = entry.split(":")
        if len(parts) == 1:
            return None, parts[0]  # anonymous volume
        return parts[0], parts[1]
    if isinstance(entry, dict):
        if entry.get("type", "volume") != "volume":
            return None, entry.get("target")
        return entry.get("source"), entry.get("target")
    return None, None


def expectations(spec: dict) -> list[str]:
    """Return what is wrong with the parsed file for Roster (empty when fine)."""
    problems: list[str] = []
    services = spec.get("services") or {}
    for name in ("postgres", "roster"):
        if name not in services:
            problems.append(f"service `{name}` is missing")
    if problems:
        return problems

    for name in ("postgres", "roster"):
        hc = services[name].get("healthcheck")
        if not hc or hc.get("disable") or not hc.get("test"):
            problems.append(f"service `{name}` has no healthcheck")

    depends = services["roster"].get("depends_on") or {}
    if isinstance(depends, list) or (depends.get("postgres") or {}).get("condition") != "service_healthy":
        problems.append("service `roster` must depend on `postgres` with `condition: service_healthy`")

    declared = set((spec.get("volumes") or {}).keys())
    sources = [volume_source(v) for v in services["postgres"].get("volumes") or []]
    data = [src for src, target in sources if target and target.rstrip("/") == POSTGRES_DATA]
    if not data or not data[0] or data[0].startswith((".", "/", "~")):
        problems.append(f"service `postgres` must keep {POSTGRES_DATA} on a named volume")
    elif data[0] not in declared:
        problems.append(f"volume `{data[0]}` used by `postgres` is not declared under top-level `volumes`")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="compose.yaml", help="compose file (default: compose.yaml)")
    args = parser.parse_args()
    path = Path(args.path)

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1

    try:
        compose = PyCompose.from_yaml(text)
        compose.validate()
        spec = compose.to_dict()
        compose.to_spec()  # also validates against the pydantic models
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        print(f"{path}: invalid: {exc}", file=sys.stderr)
        return 1

    problems = expectations(spec)
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return 1

    print(f"{path}: valid (Compose Specification)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
