#!/usr/bin/env python3
"""Validate compose.yaml against the Compose Specification, plus Roster's own expectations.

Usage: python3 scripts/check_compose.py [compose.yaml]

The Compose Specification check is compose-spec's parser (PyCompose.from_yaml),
which rejects unknown keys and bad values and names the line. On top of that we
assert what our deployment relies on: a `postgres` and a `roster` service, both
with a healthcheck, roster waiting for postgres to be healthy, postgres data
on a named volume, and every secret (the database password, the first owner's
password, Roster's secret key) read from a compose secret file, never a literal:
no password in the environment or in ROSTER_DATABASE_URL, and roster's
healthcheck is `roster healthcheck` (the image has no curl).
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
    problems += secret_problems(spec, services)
    return problems


# (service, variable that names a file under /run/secrets/) every deployment must use.
SECRET_FILES = [
    ("postgres", "POSTGRES_PASSWORD_FILE"),
    ("roster", "ROSTER_DATABASE_PASSWORD_FILE"),
    ("roster", "ROSTER_SECRET_KEY_FILE"),
    ("roster", "ROSTER_BOOTSTRAP_OWNER_PASSWORD_FILE"),
]
# Variables that would put a secret itself in the file (or in `docker inspect`).
LITERAL_SECRETS = {
    "postgres": ["POSTGRES_PASSWORD"],
    "roster": ["ROSTER_SECRET_KEY", "ROSTER_BOOTSTRAP_OWNER_PASSWORD", "ROSTER_DATABASE_PASSWORD"],
}


def environment(service: dict) -> dict:
    """A service's environment as a dict, from the mapping or the list syntax."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = [item.split("=", 1) for item in env]
        return {pair[0]: (pair[1] if len(pair) > 1 else None) for pair in pairs}
    return dict(env)


def service_secrets(service: dict) -> set[str]:
    names = set()
    for entry in service.get("secrets") or []:
        names.add(entry if isinstance(entry, str) else entry.get("source"))
    return names


def secret_problems(spec: dict, services: dict) -> list[str]:
    problems: list[str] = []
    declared = spec.get("secrets") or {}
    for name, secret in declared.items():
        if not (secret or {}).get("file"):
            problems.append(f"secret `{name}` must come from a file")
    for service_name, variable in SECRET_FILES:
        service = services[service_name]
        path = str(environment(service).get(variable) or "")
        secret = path[len("/run/secrets/"):] if path.startswith("/run/secrets/") else None
        if not secret:
            problems.append(f"service `{service_name}` must set {variable} to a file under /run/secrets/")
        elif secret not in service_secrets(service):
            problems.append(f"service `{service_name}` must list secret `{secret}` (its {variable})")
        elif secret not in declared:
            problems.append(f"secret `{secret}` used by `{service_name}` is not declared under top-level `secrets`")
    for service_name, variables in LITERAL_SECRETS.items():
        env = environment(services[service_name])
        for variable in variables:
            if variable in env:
                problems.append(f"service `{service_name}` sets {variable} in the file: use {variable}_FILE and a secret")
    url = str(environment(services["roster"]).get("ROSTER_DATABASE_URL") or "")
    if "@" in url and ":" in url.split("://", 1)[-1].split("@", 1)[0]:
        problems.append("ROSTER_DATABASE_URL carries a password: leave it out and set ROSTER_DATABASE_PASSWORD_FILE")
    test = (services["roster"].get("healthcheck") or {}).get("test") or []
    words = test if isinstance(test, list) else [test]
    if any("curl" in str(word) for word in words) or not any(str(word).endswith("roster") for word in words) or "healthcheck" not in words:
        problems.append("service `roster` must check its health with `roster healthcheck` (the image has no curl)")
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
