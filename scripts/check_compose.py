#!/usr/bin/env python3
"""Validate compose.yaml against the Compose Specification, plus Roster's own expectations.

Usage: python3 scripts/check_compose.py [compose.yaml]
       python3 scripts/check_compose.py --patroni examples/patroni/compose.yaml
       python3 scripts/check_compose.py --self-test

The Compose Specification check is compose-spec's parser (PyCompose.from_yaml),
which rejects unknown keys and bad values and names the line. On top of that we
assert what our deployment relies on: a `postgres` and a `roster` service, both
with a healthcheck, roster waiting for postgres to be healthy, postgres data
on a named volume, and every secret (the database password, the first owner's
password, Roster's secret key) read from a compose secret file, never a literal:
no password in the environment or in ROSTER_DATABASE_URL, and roster's
healthcheck is `roster healthcheck` (the image has no curl).

With --patroni, the high-availability example instead: an `etcd` service and at
least three Patroni nodes (services that set PATRONI_NAME), each with a
healthcheck, its data on a named volume, waiting for etcd to be healthy, and the
passwords its entrypoint.sh reads (postgres_superuser_password,
postgres_replication_password) as compose secrets, never in its environment; at
least two Roster replicas (services running `serve`) whose ROSTER_DATABASE_URL
names every node's PATRONI_POSTGRESQL_CONNECT_ADDRESS with
target_session_attrs=read-write, which wait for the nodes to be healthy, and
follow the same secret and healthcheck rules as `roster` above.

--self-test breaks both files in each of the ways these rules catch, and checks
that every break fails and the files as they are pass.
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
    problems = declared_secret_problems(spec)
    for service_name, variable in SECRET_FILES:
        problems += secret_file_problems(spec, service_name, services[service_name], variable)
    for service_name, variables in LITERAL_SECRETS.items():
        problems += literal_problems(service_name, services[service_name], variables)
    return problems + roster_problems("roster", services["roster"])


def declared_secret_problems(spec: dict) -> list[str]:
    return [f"secret `{name}` must come from a file"
            for name, secret in (spec.get("secrets") or {}).items() if not (secret or {}).get("file")]


def secret_file_problems(spec: dict, service_name: str, service: dict, variable: str) -> list[str]:
    """`variable` of the service must name a file under /run/secrets/ whose secret the service lists and the file declares."""
    path = str(environment(service).get(variable) or "")
    secret = path[len("/run/secrets/"):] if path.startswith("/run/secrets/") else None
    if not secret:
        return [f"service `{service_name}` must set {variable} to a file under /run/secrets/"]
    return secret_listed_problems(spec, service_name, service, secret, f"its {variable}")


def secret_listed_problems(spec: dict, service_name: str, service: dict, secret: str, why: str) -> list[str]:
    if secret not in service_secrets(service):
        return [f"service `{service_name}` must list secret `{secret}` ({why})"]
    if secret not in (spec.get("secrets") or {}):
        return [f"secret `{secret}` used by `{service_name}` is not declared under top-level `secrets`"]
    return []


def literal_problems(service_name: str, service: dict, variables: list[str]) -> list[str]:
    env = environment(service)
    return [f"service `{service_name}` sets {variable} in the file: use {variable}_FILE and a secret"
            for variable in variables if variable in env]


def roster_problems(service_name: str, service: dict) -> list[str]:
    """A Roster service: no password in its database URL, and `roster healthcheck` as its health check."""
    problems: list[str] = []
    url = str(environment(service).get("ROSTER_DATABASE_URL") or "")
    if "@" in url and ":" in url.split("://", 1)[-1].split("@", 1)[0]:
        problems.append("ROSTER_DATABASE_URL carries a password: leave it out and set ROSTER_DATABASE_PASSWORD_FILE")
    test = (service.get("healthcheck") or {}).get("test") or []
    words = test if isinstance(test, list) else [test]
    if any("curl" in str(word) for word in words) or not any(str(word).endswith("roster") for word in words) or "healthcheck" not in words:
        problems.append(f"service `{service_name}` must check its health with `roster healthcheck` (the image has no curl)")
    return problems


# The passwords examples/patroni/entrypoint.sh reads from /run/secrets/ on every Patroni node.
PATRONI_SECRETS = ["postgres_superuser_password", "postgres_replication_password"]
# Roster variables that name a secret file, on every Roster replica of the Patroni example.
ROSTER_SECRET_FILES = ["ROSTER_DATABASE_PASSWORD_FILE", "ROSTER_SECRET_KEY_FILE"]


def healthy_dependency(service: dict, name: str) -> bool:
    depends = service.get("depends_on") or {}
    return isinstance(depends, dict) and (depends.get(name) or {}).get("condition") == "service_healthy"


def named_volumes(service: dict) -> list[str]:
    return [src for src, _ in (volume_source(v) for v in service.get("volumes") or [])
            if src and not src.startswith((".", "/", "~"))]


def url_hosts(url: str) -> tuple[list[str], dict[str, str]]:
    """The host:port list and the query parameters of a (possibly multi-host) postgres:// URL."""
    rest = url.split("://", 1)[-1]
    authority, _, tail = rest.partition("/")
    hosts = authority.rsplit("@", 1)[-1].split(",")
    query = tail.partition("?")[2]
    parameters = dict(pair.split("=", 1) for pair in query.split("&") if "=" in pair)
    return [h if ":" in h else f"{h}:5432" for h in hosts if h], parameters


def patroni_expectations(spec: dict) -> list[str]:
    """What is wrong with the parsed Patroni example for Roster (empty when fine)."""
    problems: list[str] = []
    services = spec.get("services") or {}
    declared_volumes = set((spec.get("volumes") or {}).keys())
    nodes = {name: service for name, service in services.items() if environment(service).get("PATRONI_NAME")}
    rosters = {name: service for name, service in services.items()
               if "serve" in (service.get("command") if isinstance(service.get("command"), list) else str(service.get("command") or "").split())}
    if "etcd" not in services:
        problems.append("service `etcd` is missing")
    if len(nodes) < 3:
        problems.append(f"at least three Patroni nodes (services that set PATRONI_NAME) are needed, not {len(nodes)}")
    if len(rosters) < 2:
        problems.append(f"at least two Roster replicas (services running `serve`) are needed, not {len(rosters)}")
    if problems:
        return problems

    for name in ["etcd", *nodes]:
        service = services[name]
        hc = service.get("healthcheck")
        if not hc or hc.get("disable") or not hc.get("test"):
            problems.append(f"service `{name}` has no healthcheck")
        volumes = named_volumes(service)
        if not volumes:
            problems.append(f"service `{name}` must keep its data on a named volume")
        problems += [f"volume `{v}` used by `{name}` is not declared under top-level `volumes`" for v in volumes if v not in declared_volumes]

    addresses = {}
    for name, service in nodes.items():
        env = environment(service)
        if not healthy_dependency(service, "etcd"):
            problems.append(f"service `{name}` must depend on `etcd` with `condition: service_healthy`")
        for secret in PATRONI_SECRETS:
            problems += secret_listed_problems(spec, name, service, secret, "entrypoint.sh reads it")
        problems += [f"service `{name}` sets {variable} in the file: entrypoint.sh reads it from a secret"
                     for variable in env if variable.startswith("PATRONI_") and variable.endswith("_PASSWORD")]
        address = env.get("PATRONI_POSTGRESQL_CONNECT_ADDRESS")
        if not address:
            problems.append(f"service `{name}` must set PATRONI_POSTGRESQL_CONNECT_ADDRESS (the address Roster's URL names)")
        else:
            addresses[name] = str(address)

    problems += declared_secret_problems(spec)
    for name, service in rosters.items():
        env = environment(service)
        for variable in ROSTER_SECRET_FILES:
            problems += secret_file_problems(spec, name, service, variable)
        if env.get("ROSTER_BOOTSTRAP_OWNER_EMAIL") is not None:
            problems += secret_file_problems(spec, name, service, "ROSTER_BOOTSTRAP_OWNER_PASSWORD_FILE")
        problems += literal_problems(name, service, LITERAL_SECRETS["roster"])
        problems += roster_problems(name, service)
        hosts, parameters = url_hosts(str(env.get("ROSTER_DATABASE_URL") or ""))
        missing = [node for node, address in addresses.items() if address not in hosts]
        if missing:
            problems.append(f"service `{name}`: ROSTER_DATABASE_URL must name every Patroni node; it lacks "
                            + ", ".join(f"`{node}` ({addresses[node]})" for node in missing))
        if parameters.get("target_session_attrs") != "read-write":
            problems.append(f"service `{name}`: ROSTER_DATABASE_URL must ask for target_session_attrs=read-write")
        for node in nodes:
            if not healthy_dependency(service, node):
                problems.append(f"service `{name}` must depend on `{node}` with `condition: service_healthy`")
    return problems


def check(text: str, patroni: bool) -> list[str]:
    """The parser's verdict and our expectations, as messages (empty: valid)."""
    try:
        compose = PyCompose.from_yaml(text)
        compose.validate()
        spec = compose.to_dict()
        compose.to_spec()  # also validates against the pydantic models
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        return [f"invalid: {exc}"]
    return patroni_expectations(spec) if patroni else expectations(spec)


# ---- self-test ----

ROOT = Path(__file__).resolve().parent.parent
# (file, --patroni, what to replace (its first occurrence), with what, words of the expected message): each must fail.
BREAKS = [
    ("compose.yaml", False, "  roster:\n", "  rooster:\n", "service `roster` is missing"),
    ("compose.yaml", False, "POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password", "POSTGRES_PASSWORD: secret",
     "must set POSTGRES_PASSWORD_FILE"),
    ("compose.yaml", False, "postgres://roster@postgres", "postgres://roster:pw@postgres", "carries a password"),
    ("compose.yaml", False, "      - pgdata:/var/lib/postgresql/data", "      - ./pgdata:/var/lib/postgresql/data", "named volume"),
    ("compose.yaml", False, "    restart: unless-stopped\n", "    restart: sometimes\n", "invalid"),
    ("examples/patroni/compose.yaml", True, "pg1:5432,pg2:5432,pg3:5432/roster?target_session_attrs=read-write&",
     "pg1:5432,pg2:5432/roster?target_session_attrs=read-write&", "lacks `pg3`"),
    ("examples/patroni/compose.yaml", True, "?target_session_attrs=read-write&connect_timeout=3", "?connect_timeout=3",
     "target_session_attrs=read-write"),
    ("examples/patroni/compose.yaml", True, "      PATRONI_NAME: pg3\n", "      PATRONI_NAME: pg3\n      PATRONI_SUPERUSER_PASSWORD: pw\n",
     "sets PATRONI_SUPERUSER_PASSWORD"),
    ("examples/patroni/compose.yaml", True, "      - pg2-data:/var/lib/postgresql/patroni", "      - ./pg2:/var/lib/postgresql/patroni",
     "`pg2` must keep its data on a named volume"),
    ("examples/patroni/compose.yaml", True, "ROSTER_SECRET_KEY_FILE: /run/secrets/roster_secret_key", "ROSTER_SECRET_KEY: k1:abc",
     "sets ROSTER_SECRET_KEY in the file"),
    ("examples/patroni/compose.yaml", True, "      PATRONI_NAME: pg2\n", "      PATRONI_ROLE: pg2\n", "at least three Patroni nodes"),
    ("examples/patroni/compose.yaml", True, "    file: ./secrets/roster_db_password\n", "    environment: ROSTER_DB\n",
     "must come from a file"),
]


def self_test() -> int:
    problems: list[str] = []
    for name, patroni in (("compose.yaml", False), ("examples/patroni/compose.yaml", True)):
        found = check((ROOT / name).read_text(encoding="utf-8"), patroni)
        if found:
            problems.append(f"{name} as it is fails: {found}")
    for name, patroni, old, new, words in BREAKS:
        text = (ROOT / name).read_text(encoding="utf-8")
        if old not in text:
            problems.append(f"{name}: the break {old!r} no longer matches the file")
            continue
        found = check(text.replace(old, new, 1), patroni)
        if any(words in message for message in found):
            print(f"check_compose self-test: caught in {name}: {words}")
        else:
            problems.append(f"{name}: replacing {old.strip()!r} with {new.strip()!r} gave {found}, not {words!r}")
    for problem in problems:
        print(f"check_compose self-test: FAIL: {problem}", file=sys.stderr)
    print(f"check_compose self-test: {len(BREAKS)} breaks, {len(problems)} problems")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("path", nargs="?", default="compose.yaml", help="compose file (default: compose.yaml)")
    parser.add_argument("--patroni", action="store_true", help="the Patroni example's expectations instead")
    parser.add_argument("--self-test", action="store_true", help="show that each kind of broken file fails")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    path = Path(args.path)

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1

    problems = check(text, args.patroni)
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return 1

    print(f"{path}: valid (Compose Specification{', Patroni example' if args.patroni else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
