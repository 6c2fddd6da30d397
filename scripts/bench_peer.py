#!/usr/bin/env python3
"""Roster against django-scim2 on one throwaway PostgreSQL, each server alone in turn, with the box's ceilings.

Usage: python3 scripts/bench_peer.py [--roster .build/release/roster] [--seconds 10] [--users 10000]
       [--bulk-users 100000] [--only both|roster|django] [--json FILE]

One command, loopback only; it stops by itself and stops only the processes it started, by pid.
1. Starts one PostgreSQL 15 (initdb into a temp folder, as the postgres account through setpriv when
   run as root) with fsync ON: write figures include real commits.
2. Ceilings on that cluster: `pgbench -S`, and three custom pgbench transactions (a plain INSERT; an
   INSERT plus an UPDATE of one shared row; an UPDATE of one shared row then an INSERT, a hot group's
   member PATCH), 32 clients, 2 threads.
3. django-scim2 0.23 (pinned in scripts/requirements-peer.txt, installed into .build/peer-venv, reused)
   in a generated Django project (scripts/peer_django.py) under gunicorn with 2 sync workers; then
   `roster serve` (release build) with rate limits off. Each in its own database of the one cluster,
   the other stopped. Each is seeded through its own SCIM API, timed (USERS users from 4 client threads,
   then a 10-member group, a USERS-member group and 100 groups of 10 through PATCH add), and measured
   with wrk (2 threads, 32 connections) on: GET /Users/{id}, filter userName eq, list count=100,
   POST /Users, member PATCH on the small group, on the big one, and spread over the 100 groups.
   Roster only: one Bulk request of 1 000 user POSTs, BULK_USERS users through Bulk (requests of the
   advertised maxOperations, 2 concurrent clients) and its RSS during the GET run.
4. Prints a markdown table (scenario | django-scim2 | Roster | Roster / django), the ceilings and the
   ratios issue #17 sets targets on; --json writes the same to a file.

Each scenario's request kind is sent once with urllib first and its status printed. A scenario with
non-2xx answers is shown as its error count, not a rate, and the script exits 1. Ratios, not absolute
numbers, are what to compare: the machine (2 cores shared by server, database and wrk) is noisy.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import peer_django
from devserver import wait_ready

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = Path(__file__).resolve().parent / "requirements-peer.txt"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SPREAD_GROUPS = 100
SEED_CLIENTS = 4
MEMBER_CHUNK = 1000


def say(text: str) -> None:
    print(f"bench: {text}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(proc: subprocess.Popen, first: int = signal.SIGINT, timeout: float = 60) -> None:
    """Stops a process this script started: FIRST, then SIGKILL of its own process group after TIMEOUT."""
    if proc.poll() is not None:
        return
    proc.send_signal(first)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# ---------------------------------------------------------------------------------------------- PostgreSQL

class Cluster:
    """One throwaway PostgreSQL 15 on 127.0.0.1, fsync on. Use with `with`."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="roster-peer-pg-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.as_postgres = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups",
                            "--pdeathsig", "INT", "--"] if os.geteuid() == 0 else []

    def __enter__(self) -> "Cluster":
        os.chmod(self.folder, 0o700)
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        log = self.folder / "initdb.log"
        with open(log, "w") as out:
            if subprocess.run([*self.as_postgres, binary("initdb"), "-D", str(self.folder / "data"), "-A", "trust",
                               "-U", "postgres", "-E", "UTF8", "--locale=C"], stdout=out, stderr=subprocess.STDOUT).returncode:
                raise RuntimeError("initdb failed:\n" + log.read_text()[-2000:])
        self.proc = subprocess.Popen([*self.as_postgres, binary("postgres"), "-D", str(self.folder / "data"),
                                      "-h", "127.0.0.1", "-p", str(self.port), "-k", str(self.folder),
                                      "-c", "max_connections=200", "-c", "lc_messages=C", "-c", "fsync=on",
                                      "-c", "synchronous_commit=on"],
                                     stdout=open(self.folder / "postgres.log", "w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("postgres did not start:\n" + (self.folder / "postgres.log").read_text()[-2000:])
            time.sleep(0.1)
        return self

    def __exit__(self, *_: object) -> None:
        if self.proc is not None:
            stop(self.proc, timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)

    def psql(self, database: str, *sql: str) -> str:
        command = ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
                   "-v", "ON_ERROR_STOP=1", "-qAt"]
        for statement in sql:
            command += ["-c", statement]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    def create_database(self, name: str) -> None:
        self.psql("postgres", f"CREATE DATABASE {name}")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}?sslmode=disable"


def binary(name: str) -> str:
    """initdb / postgres: from PATH, else Debian's PostgreSQL 15 folder."""
    return shutil.which(name) or f"/usr/lib/postgresql/15/bin/{name}"


# ---------------------------------------------------------------------------------------------- ceilings

CEILING_TABLES = """
CREATE TABLE ceiling_member (id bigserial PRIMARY KEY, group_id int NOT NULL, member_id int NOT NULL,
                             added timestamptz NOT NULL DEFAULT now());
CREATE TABLE ceiling_counter (id int PRIMARY KEY, n bigint NOT NULL);
INSERT INTO ceiling_counter VALUES (1, 0);
"""
INSERT = "INSERT INTO ceiling_member (group_id, member_id) VALUES (1, :client_id);"
UPDATE = "UPDATE ceiling_counter SET n = n + 1 WHERE id = 1;"
CEILINGS = {
    "pgbench -S (point lookups)": None,
    "INSERT of a small row, commit": INSERT,
    "INSERT + UPDATE of one shared row, commit": f"BEGIN;\n{INSERT}\n{UPDATE}\nEND;",
    "UPDATE of one shared row, then INSERT, commit (hot group)": f"BEGIN;\n{UPDATE}\n{INSERT}\nEND;",
}


def pgbench(cluster: Cluster, seconds: int, extra: list[str]) -> float:
    out = subprocess.run(["pgbench", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
                          "-c", "32", "-j", "2", "-T", str(seconds), *extra, "pgbench"],
                         capture_output=True, text=True)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    if out.returncode != 0 or not match:
        raise RuntimeError(f"pgbench {' '.join(extra)} failed:\n{out.stdout[-1500:]}{out.stderr[-1500:]}")
    return float(match.group(1))


def ceilings(cluster: Cluster, seconds: int, folder: Path) -> dict[str, float]:
    cluster.create_database("pgbench")
    subprocess.run(["pgbench", "-i", "-q", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "pgbench"],
                   capture_output=True, check=True)
    cluster.psql("pgbench", CEILING_TABLES)
    results = {}
    for name, script in CEILINGS.items():
        if script is None:
            extra = ["-S"]
        else:
            path = folder / f"ceiling-{len(results)}.sql"
            path.write_text(script + "\n")
            extra = ["-n", "-f", str(path)]
        results[name] = pgbench(cluster, seconds, extra)
        say(f"ceiling: {name}: {results[name]:.0f} TPS")
    return results


# ---------------------------------------------------------------------------------------------- HTTP

class Client:
    """A keep-alive HTTP/1.1 client for one thread (reconnects when the server closes)."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}

    def call(self, method: str, path: str, body: object = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=data, headers=self.headers)
                response = self.connection.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if attempt == 2:
                    raise
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw[:300].decode(errors="replace")}
        return response.status, parsed

    def ok(self, method: str, path: str, body: object = None) -> dict:
        status, parsed = self.call(method, path, body)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path} answered {status}: {json.dumps(parsed)[:500]}")
        return parsed


def user_body(name: str) -> dict:
    return {"schemas": [USER], "userName": name, "name": {"givenName": "Given", "familyName": name},
            "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}]}


def patch_members(op: str, ids: list[str]) -> dict:
    """Members added or removed by value (Entra's form): the one remove form django-scim2 understands."""
    return {"schemas": [PATCH_OP], "Operations": [{"op": op, "path": "members", "value": [{"value": i} for i in ids]}]}


# ---------------------------------------------------------------------------------------------- seeding

class Seed:
    """What a server holds after seeding: user ids by number, group ids, spare users for PATCHes."""
    users: dict[int, str]
    small: str
    large: str
    spread: list[str]
    spares: list[str]


def seed(port: int, base: str, token: str, users: int) -> tuple[Seed, float]:
    """USERS users (SEED_CLIENTS threads), then the groups and their members by PATCH add; timed."""
    result = Seed()
    local = threading.local()

    def client() -> Client:
        if not hasattr(local, "client"):
            local.client = Client(port, token)
        return local.client

    def create(number: int) -> tuple[int, str]:
        return number, client().ok("POST", f"{base}/Users", user_body(f"user-{number}"))["id"]

    def group(name: str, members: list[str]) -> str:
        group_id = client().ok("POST", f"{base}/Groups", {"schemas": [GROUP], "displayName": name})["id"]
        for start in range(0, len(members), MEMBER_CHUNK):
            client().ok("PATCH", f"{base}/Groups/{group_id}", patch_members("add", members[start:start + MEMBER_CHUNK]))
        return group_id

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=SEED_CLIENTS) as pool:
        result.users = dict(pool.map(create, range(1, users + 1)))
        ids = [result.users[i] for i in range(1, users + 1)]
        jobs = [pool.submit(group, "bench-small", ids[:10]), pool.submit(group, "bench-large", ids)]
        spread = [pool.submit(group, f"bench-spread-{k}", [ids[(k * 10 + j) % users] for j in range(10)])
                  for k in range(SPREAD_GROUPS)]
        result.small, result.large = (job.result() for job in jobs)
        result.spread = [job.result() for job in spread]
    seconds = time.monotonic() - started
    result.spares = [client().ok("POST", f"{base}/Users", user_body(f"spare-{t}"))["id"] for t in range(2)]
    return result, seconds


# ---------------------------------------------------------------------------------------------- wrk

LUA_HEAD = """
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local n = 0
local headers = {["Authorization"] = "Bearer TOKEN", ["Content-Type"] = "application/scim+json"}
"""


def lua_list(values: list[str]) -> str:
    return "{" + ",".join(f'"{v}"' for v in values) + "}"


def lua_get(base: str, ids: list[str]) -> str:
    return f"""local ids = {lua_list(ids)}
request = function()
  n = n + 1
  return wrk.format("GET", "{base}/Users/" .. ids[(n * 2 + tid) % #ids + 1], headers)
end
"""


def lua_filter(base: str, users: int) -> str:
    return f"""request = function()
  n = n + 1
  local i = (n * 7919 + tid * 5003) % {users} + 1
  return wrk.format("GET", "{base}/Users?filter=userName%20eq%20%22user-" .. i .. "%22", headers)
end
"""


def lua_fixed(path: str) -> str:
    return f"""request = function()
  return wrk.format("GET", "{path}", headers)
end
"""


def lua_post(base: str, tag: str) -> str:
    return f"""request = function()
  n = n + 1
  local name = "{tag}-" .. tid .. "-" .. n
  return wrk.format("POST", "{base}/Users", headers,
    '{{"schemas":["{USER}"],"userName":"' .. name .. '","name":{{"givenName":"Post","familyName":"' .. name ..
    '"}},"emails":[{{"value":"' .. name .. '@example.com","type":"work","primary":true}}]}}')
end
"""


def lua_patch(base: str, groups: list[str], spares: list[str]) -> str:
    """Round-robin over GROUPS; each wrk thread adds its own spare member, then removes it on the next visit."""
    return f"""local groups = {lua_list(groups)}
local spares = {lua_list(spares)}
request = function()
  n = n + 1
  local group = groups[(n - 1) % #groups + 1]
  local op = "add"
  if math.floor((n - 1) / #groups) % 2 == 1 then op = "remove" end
  return wrk.format("PATCH", "{base}/Groups/" .. group, headers,
    '{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"' .. op .. '","path":"members","value":[{{"value":"' ..
    spares[tid % #spares + 1] .. '"}}]}}]}}')
end
"""


class Measured:
    def __init__(self, rate: float = 0.0, errors: int = 0, socket_errors: str = "", unit: str = "req/s", requests: int = 0) -> None:
        self.rate, self.errors, self.socket_errors, self.unit = rate, errors, socket_errors, unit
        self.requests = requests  # completed in a wrk run (answers of any status), 0 where not a wrk run

    def as_json(self) -> dict:
        return {"value": self.rate, "unit": self.unit, "non_2xx": self.errors, "socket_errors": self.socket_errors or None}


def wrk(port: int, token: str, lua: str, seconds: int, folder: Path) -> Measured:
    script = folder / "scenario.lua"
    script.write_text(LUA_HEAD.replace("TOKEN", token) + lua)
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--timeout", "60s", "-s", str(script),
                          f"http://127.0.0.1:{port}"], capture_output=True, text=True, timeout=seconds + 120)
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out.stdout)
    if out.returncode != 0 or not rate:
        raise RuntimeError(f"wrk failed:\n{out.stdout}{out.stderr}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    sockets = re.search(r"Socket errors: (.*)", out.stdout)
    done = re.search(r"(\d+) requests in", out.stdout)
    return Measured(float(rate.group(1)), int(errors.group(1)) if errors else 0, sockets.group(1) if sockets else "",
                    requests=int(done.group(1)) if done else 0)


def check(client: Client, label: str, method: str, path: str, body: object = None) -> None:
    """One request of the scenario's kind before wrk: its status is printed, and a non-2xx stops the run."""
    status, parsed = client.call(method, path, body)
    say(f"  check {label}: {method} {path[:70]} -> {status}")
    if not 200 <= status < 300:
        raise RuntimeError(f"{label}: {method} {path} answered {status}: {json.dumps(parsed)[:500]}")


class RSSSampler:
    """Samples VmRSS of PID every 100 ms in a thread; VmHWM is read at the end."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_rss, self.done = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def field(self, name: str) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
        return 0

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.peak_rss = max(self.peak_rss, self.field("VmRSS"))

    def __enter__(self) -> "RSSSampler":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()
        self.hwm = self.field("VmHWM")


def scenarios(port: int, base: str, token: str, data: Seed, users: int, seconds: int, folder: Path,
              pid: int | None, tag: str) -> dict[str, Measured]:
    """The wrk rows, in order, each checked once with a plain request first."""
    client = Client(port, token)
    ids = [data.users[i] for i in range(1, users + 1, max(1, users // 1000))]
    spare = data.spares[0]
    results: dict[str, Measured] = {}

    def patch_check(label: str, group: str) -> None:
        check(client, label + " (add)", "PATCH", f"{base}/Groups/{group}", patch_members("add", [spare]))
        check(client, label + " (remove)", "PATCH", f"{base}/Groups/{group}", patch_members("remove", [spare]))

    rows = [
        ("GET /Users/{id}", lambda: check(client, "GET", "GET", f"{base}/Users/{ids[0]}"), lua_get(base, ids)),
        ("filter userName eq", lambda: check(client, "filter", "GET", f"{base}/Users?filter="
                                             + urllib.parse.quote('userName eq "user-123"')), lua_filter(base, users)),
        ("list, count=100", lambda: check(client, "list", "GET", f"{base}/Users?count=100"), lua_fixed(f"{base}/Users?count=100")),
        ("POST /Users", lambda: check(client, "POST", "POST", f"{base}/Users", user_body(f"{tag}-check")), lua_post(base, tag)),
        ("PATCH members, 10-member group", lambda: patch_check("PATCH small", data.small),
         lua_patch(base, [data.small], data.spares)),
        (f"PATCH members, {users}-member group", lambda: patch_check("PATCH large", data.large),
         lua_patch(base, [data.large], data.spares)),
        (f"PATCH members, spread over {SPREAD_GROUPS} groups", lambda: patch_check("PATCH spread", data.spread[0]),
         lua_patch(base, data.spread, data.spares)),
    ]
    for name, verify, lua in rows:
        verify()
        if name.startswith("GET") and pid is not None:
            with RSSSampler(pid) as sampler:
                results[name] = wrk(port, token, lua, seconds, folder)
            results["RSS under GET load, peak (VmRSS sampled / VmHWM)"] = Measured(
                sampler.peak_rss / 1024, unit=f"MiB (VmHWM {sampler.hwm / 1024:.0f} MiB)")
        else:
            results[name] = wrk(port, token, lua, seconds, folder)
        m = results[name]
        say(f"  {name}: {m.rate:.1f} req/s" + (f", {m.errors} non-2xx" if m.errors else "")
            + (f" (socket errors: {m.socket_errors})" if m.socket_errors else ""))
    return results


# ---------------------------------------------------------------------------------------------- Bulk (Roster)

def bulk(port: int, base: str, token: str, total: int) -> dict[str, Measured]:
    """One Bulk request of 1 000 user POSTs, then TOTAL users in requests of maxOperations, 2 clients."""
    client = Client(port, token)
    config = client.ok("GET", f"{base}/ServiceProviderConfig")["bulk"]
    per_request, max_bytes = int(config["maxOperations"]), int(config["maxPayloadSize"])
    say(f"  Bulk: maxOperations {per_request}, maxPayloadSize {max_bytes} bytes; using {per_request} operations per request")

    def body(prefix: str, start: int, count: int) -> dict:
        return {"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": f"b{i}", "data": user_body(f"{prefix}-{i}")}
            for i in range(start, start + count)]}

    local = threading.local()

    def send(payload: dict) -> int:
        if not hasattr(local, "client"):
            local.client = Client(port, token)
        size = len(json.dumps(payload))
        if size > max_bytes:
            raise RuntimeError(f"a Bulk request of {size} bytes is over maxPayloadSize {max_bytes}")
        operations = local.client.ok("POST", f"{base}/Bulk", payload)["Operations"]
        return sum(1 for op in operations if not str(op.get("status", "")).startswith("2"))

    results = {}
    started = time.monotonic()
    failed = send(body("bulk1k", 0, min(1000, per_request)))
    results["Bulk: one request of 1 000 user POSTs"] = Measured(time.monotonic() - started, failed, unit="s")
    batches = [body("bulk", start, min(per_request, total - start)) for start in range(0, total, per_request)]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        failed = sum(pool.map(send, batches))
    results[f"Bulk: {total} users ({per_request} per request, 2 clients)"] = Measured(time.monotonic() - started, failed, unit="s")
    for name, m in results.items():
        say(f"  {name}: {m.rate:.1f} s" + (f", {m.errors} failed operations" if m.errors else ""))
    return results


# ---------------------------------------------------------------------------------------------- the servers

def ensure_venv() -> Path:
    """.build/peer-venv with requirements-peer.txt, reused while its stamp matches the pins."""
    venv = ROOT / ".build" / "peer-venv"
    stamp = venv / "requirements-peer.txt"
    if stamp.exists() and stamp.read_text() == REQUIREMENTS.read_text() and (venv / "bin" / "gunicorn").exists():
        return venv
    say(f"installing django-scim2 and its pins into {venv}")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python3"), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                    "-r", str(REQUIREMENTS)], check=True)
    shutil.copyfile(REQUIREMENTS, stamp)
    return venv


@contextlib.contextmanager
def django_server(cluster: Cluster, folder: Path) -> Iterator[tuple[subprocess.Popen, int, str]]:
    venv = ensure_venv()
    cluster.create_database("django")
    port, token = free_port(), "peer-" + os.urandom(16).hex()
    project = folder / "django"
    peer_django.write_project(project)
    env = peer_django.environment(project, cluster.port, "django", port, token)
    log = folder / "django.log"
    peer_django.migrate(venv, env, log)
    proc = peer_django.start(venv, env, port, 2, log)
    try:
        deadline = time.monotonic() + 60
        while not answers(port, token):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start:\n" + log.read_text()[-2000:])
            time.sleep(0.3)
        yield proc, port, token
    finally:
        stop(proc, signal.SIGTERM)


def answers(port: int, token: str) -> bool:
    """True once the SCIM server on PORT answers an authenticated GET /ServiceProviderConfig with 200."""
    try:
        return Client(port, token).call("GET", "/scim/v2/ServiceProviderConfig")[0] == 200
    except OSError:
        return False


@contextlib.contextmanager
def roster_server(roster: str, cluster: Cluster, folder: Path) -> Iterator[tuple[subprocess.Popen, int, str]]:
    cluster.create_database("roster")
    port = free_port()
    key = subprocess.run([roster, "secrets", "generate-key", "--id", "bench"], capture_output=True, text=True,
                         check=True).stdout.split()[-1]
    env = dict(os.environ, ROSTER_DATABASE_URL=cluster.url("roster"), ROSTER_SECRET_KEY=key, ROSTER_HOST="127.0.0.1",
               ROSTER_PORT=str(port), ROSTER_RATE_LIMIT_SCIM="off", ROSTER_RATE_LIMIT_ADMIN="off", ROSTER_LOG_LEVEL="error")
    subprocess.run([roster, "migrate"], env=env, capture_output=True, check=True)
    token = subprocess.run([roster, "token", "create", "--name", "bench-peer"], env=env, capture_output=True, text=True,
                           check=True).stdout.split()[-1]
    log = folder / "roster.log"
    proc = subprocess.Popen([roster, "serve"], env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_ready(port, proc)
        yield proc, port, token
    finally:
        stop(proc)


def measure(label: str, server: contextlib.AbstractContextManager, cluster: Cluster, database: str, args: argparse.Namespace,
            folder: Path, roster: bool) -> dict[str, Measured]:
    say(f"{label}: starting")
    with server as (proc, port, token):
        base = "/scim/v2"
        data, seconds = seed(port, base, token, args.users)
        say(f"  seeded {args.users} users + memberships through SCIM in {seconds:.1f} s")
        cluster.psql(database, "VACUUM ANALYZE", "CHECKPOINT")
        results = scenarios(port, base, token, data, args.users, args.seconds, folder, proc.pid if roster else None,
                            f"post-{label}")
        results[f"seed {args.users} users + memberships through SCIM"] = Measured(seconds, unit="s")
        if roster:
            results.update(bulk(port, base, token, args.bulk_users))
    say(f"{label}: stopped")
    return results


# ---------------------------------------------------------------------------------------------- report

def number(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ") if value >= 100 else f"{value:.1f}"


def cell(m: Measured | None) -> str:
    if m is None:
        return "—"
    if m.errors:
        return f"**{m.errors} errors**"
    return f"{number(m.rate)} {m.unit}"


def speedup(django: Measured | None, roster: Measured | None) -> str:
    if not django or not roster or django.errors or roster.errors or not django.rate or not roster.rate:
        return "—"
    if roster.unit.startswith("MiB"):
        return "—"
    factor = roster.rate / django.rate if roster.unit == "req/s" else django.rate / roster.rate
    return f"{factor:.1f}x" if factor < 100 else f"{factor:.0f}x"


def ratios(results: dict[str, Measured], ceiling: dict[str, float], users: int) -> dict[str, float | None]:
    def rate(name: str) -> float | None:
        m = results.get(name)
        return m.rate if m and not m.errors and m.rate else None

    def divide(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    names = list(CEILINGS)
    return {
        "GET by id / pgbench -S (target >= 0.25)": divide(rate("GET /Users/{id}"), ceiling.get(names[0])),
        "POST /Users / plain-INSERT pgbench (target >= 0.25)": divide(rate("POST /Users"), ceiling.get(names[1])),
        "PATCH small group / big group req/s (target <= 1.3)": divide(rate("PATCH members, 10-member group"),
                                                                        rate(f"PATCH members, {users}-member group")),
        "PATCH small group / hot-group pgbench (at its ceiling ~1)": divide(rate("PATCH members, 10-member group"),
                                                                           ceiling.get(names[3])),
        f"PATCH spread over {SPREAD_GROUPS} groups / POST /Users (scales like POST ~1)": divide(
            rate(f"PATCH members, spread over {SPREAD_GROUPS} groups"), rate("POST /Users")),
    }


def report(args: argparse.Namespace, django: dict[str, Measured], roster: dict[str, Measured],
           ceiling: dict[str, float]) -> dict:
    lines = [f"bench_peer: {args.users} users; wrk -t2 -c32 -d{args.seconds}s per row; one run; one PostgreSQL 15 "
             "(fsync on, synchronous_commit on) shared in turn; rate limits off; each server alone; "
             f"load average {args.load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end on {os.cpu_count()} cores", "",
             "| scenario | django-scim2 | Roster | Roster / django |", "|---|---:|---:|---:|"]
    names = list(dict.fromkeys([*django, *roster]))
    for name in names:
        lines.append(f"| {name} | {cell(django.get(name))} | {cell(roster.get(name))} | {speedup(django.get(name), roster.get(name))} |")
    lines += ["", f"| ceiling (pgbench, 32 clients, 2 threads, {args.seconds} s, same cluster) | TPS |", "|---|---:|"]
    lines += [f"| {name} | {number(tps)} |" for name, tps in ceiling.items()]
    ratio_django, ratio_roster = ratios(django, ceiling, args.users), ratios(roster, ceiling, args.users)
    lines += ["", "| ratio | django-scim2 | Roster |", "|---|---:|---:|"]
    show = lambda value: "—" if value is None else f"{value:.3f}"
    lines += [f"| {name} | {show(ratio_django[name])} | {show(ratio_roster[name])} |" for name in ratio_roster]
    notes = [f"{server} {name}: socket errors {m.socket_errors}" for server, results in (("django-scim2", django), ("Roster", roster))
             for name, m in results.items() if m.socket_errors]
    if notes:
        lines += ["", "wrk socket errors (a gunicorn sync worker closes every connection; timeouts are 60 s):"]
        lines += [f"- {note}" for note in notes]
    print("\n".join(lines), flush=True)
    return {"users": args.users, "seconds": args.seconds, "wrk": "-t2 -c32", "fsync": True, "load_average": [args.load_before, os.getloadavg()[0]],
            "django": {k: v.as_json() for k, v in django.items()}, "roster": {k: v.as_json() for k, v in roster.items()},
            "ceilings_tps": ceiling, "ratios": {"django": ratio_django, "roster": ratio_roster}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", default=".build/release/roster")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--bulk-users", type=int, default=100_000)
    parser.add_argument("--only", choices=("both", "roster", "django"), default="both")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    args = parser.parse_args()
    for tool in ("wrk", "psql", "pgbench", "pg_isready"):
        if shutil.which(tool) is None:
            say(f"{tool} is needed (apt-get install wrk postgresql-client postgresql-contrib)")
            return 1
    if args.only != "django" and not os.access(args.roster, os.X_OK):
        say(f"no roster binary at {args.roster}: swift build -c release")
        return 1
    args.roster = os.path.abspath(args.roster)
    args.load_before = os.getloadavg()[0]

    folder = Path(tempfile.mkdtemp(prefix="roster-peer-"))
    try:
        with Cluster() as cluster:
            say(f"PostgreSQL 15 on 127.0.0.1:{cluster.port}, fsync on, synchronous_commit on (write figures are durable commits)")
            ceiling = ceilings(cluster, args.seconds, folder)
            django = measure("django-scim2", django_server(cluster, folder), cluster, "django", args, folder, False) \
                if args.only != "roster" else {}
            roster = measure("roster", roster_server(args.roster, cluster, folder), cluster, "roster", args, folder, True) \
                if args.only != "django" else {}
        result = report(args, django, roster, ceiling)
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        failed = [f"{server} {name}" for server, results in (("django-scim2", django), ("Roster", roster))
                  for name, m in results.items() if m.errors]
        if failed:
            say("non-2xx answers (or failed Bulk operations) in: " + "; ".join(failed))
            return 1
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
