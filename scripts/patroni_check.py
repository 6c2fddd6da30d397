#!/usr/bin/env python3
"""Roster on a Patroni cluster (etcd), on loopback: a switchover, lost, stopped and frozen leaders, and what asynchronous
replication loses (issue #20; docs/operators/high-availability.md reports what it measured).

Usage: python3 scripts/patroni_check.py --roster "$(swift build --show-bin-path)/roster" [--port 18200]

Needs: Debian 12's `patroni` (3.0.x) and `etcd-server` (3.4.x) packages (`apt-get install -y patroni etcd-server`),
PostgreSQL 15's server binaries in /usr/lib/postgresql/15/bin, psql, and a built `roster`. Run it as root (PostgreSQL,
Patroni and etcd then run as the `postgres` account) or as a user that may run PostgreSQL. Not part of CI: it takes
about seven minutes, most of it waiting for Patroni's leader key to expire (ttl 30 s, loop_wait 10 s, the defaults) in
four unplanned failovers. Every wait is bounded, and a watchdog ends the run after 15 minutes.

What it does, on 127.0.0.1 only, with examples/patroni's patroni.yml (loopback addresses and folders put in),
entrypoint.sh (passwords from files) and post_bootstrap.sh (Roster's role and database; the role is no superuser):
1. one etcd and three Patroni nodes (pg1, pg2, pg3), each with its own folders and ports, synchronous_mode on;
2. two `roster serve` (A and B) on `postgres://roster@pg1,pg2,pg3/roster?target_session_attrs=read-write&connect_timeout=3`,
   the password from ROSTER_DATABASE_PASSWORD_FILE; a SCIM token; a webhook subscription to a receiver on loopback; one
   writer per replica creating users all along, and a poller of both replicas' /api/health/ready;
3. (a) `patronictl switchover` from the leader to its synchronous standby;
   (b) the leader's Patroni and PostgreSQL (postmaster and every backend) SIGKILLed, as a lost machine;
   then every write a client saw acknowledged is on the new primary, one event per user, the feed 1..n without a gap,
   every event delivered to the receiver in order; the crashed node rejoins;
4. (c) synchronous_mode off, the leader's WAL senders stopped (SIGSTOP), users written and acknowledged, the leader
   SIGKILLed, Patroni promoting a standby: it counts the acknowledged users lost, the sequence numbers the new primary
   gives to other events, the deliveries that carry them, and what a reader resuming from its cursor misses;
5. (d) synchronous_mode on again, then the leader's Patroni alone SIGKILLed: its PostgreSQL runs on as a primary while
   Patroni promotes the standby (what Patroni's watchdog exists for); what Roster does, then after that PostgreSQL is
   SIGKILLed (fenced); nothing acknowledged is lost;
6. (e) the stopped nodes rejoin; the leader frozen (SIGSTOP to Patroni, the postmaster and every backend: no FIN, no
   RST reaches Roster); nothing acknowledged is lost, and no request waits on the frozen server.
For each failover it prints the longest time without an acknowledged write on each replica, the other answers clients
got (503 with Retry-After), the readiness answers and Roster's "Database: ..." log lines, relative to the event.

It stops only what it started (by pid and process group) and removes its folder.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook_check import USER, Receiver, call  # noqa: E402
from failover_check import Replica as ServeReplica, all_events  # noqa: E402

WATCHDOG = 900  # s, the whole run
PG_BIN = "/usr/lib/postgresql/15/bin"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "patroni"  # patroni.yml and the scripts this runs
WRITE_PAUSE = 0.1  # s between one writer's requests
FAILOVER_WAIT = 90  # s, for Patroni to promote someone and Roster to serve again
ASYNC_WRITES = 10  # users acknowledged by the primary while its WAL senders are stopped
AFTER_ASYNC = 5  # users written on the new primary after the asynchronous failover
REQUEST_TIMEOUT = 30  # s, a client's wait for one answer
ZOMBIE_WATCH = 15  # s, how long (d) watches Roster after the promotion, before the old primary is stopped


def say(text: str) -> None:
    print(f"patroni: {text}", flush=True)


class Watchdog(Exception):
    pass


def on_alarm(signum, frame):  # noqa: ARG001
    raise Watchdog(f"the run took more than {WATCHDOG} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


AS_POSTGRES = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--pdeathsig", "TERM", "--"]


def prefix() -> list[str]:
    return AS_POSTGRES if os.geteuid() == 0 else []


def own(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def http(url: str, method: str = "GET", body: dict | None = None, timeout: float = 3) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        text, status = err.read(), err.code
    try:
        return status, json.loads(text) if text else {}
    except ValueError:
        return status, {"text": text.decode(errors="replace")}


def stop_group(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, wait: float = 60) -> None:
    """Signals the process group of `proc` (it was started in a session of its own), then SIGKILLs it after `wait`."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass


class Etcd:
    """One etcd member on loopback."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "etcd"
        self.client, self.peer = free_port(), free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.folder.mkdir(mode=0o700)
        own(self.folder)
        client, peer = f"http://127.0.0.1:{self.client}", f"http://127.0.0.1:{self.peer}"
        self.proc = subprocess.Popen(
            [*prefix(), "etcd", "--name", "etcd1", "--data-dir", str(self.folder / "data"), "--listen-client-urls", client,
             "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"etcd1={peer}", "--initial-cluster-state", "new"],
            stdout=open(self.folder.parent / "etcd.log", "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if http(f"{client}/health")[1].get("health") == "true":
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"etcd did not start: {(self.folder.parent / 'etcd.log').read_text()[-1500:]}")


class Node:
    """One Patroni node and the PostgreSQL 15 it runs, on loopback, in a folder of its own."""

    def __init__(self, folder: Path, name: str, etcd: Etcd, passwords: dict[str, str]) -> None:
        self.name = name
        self.folder = folder / name
        self.scripts = folder / "scripts"
        self.secrets = folder / "secrets"
        self.pg_port, self.api_port = free_port(), free_port()
        self.etcd = etcd
        self.passwords = passwords
        self.proc: subprocess.Popen | None = None
        self.frozen: list[int] = []
        self.config = self.folder / "patroni.yml"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.pg_port}"

    def settings(self) -> dict:
        """examples/patroni/patroni.yml, with this node's name, loopback addresses and folders."""
        import yaml  # PyYAML: Patroni needs it too

        settings = yaml.safe_load((EXAMPLE / "patroni.yml").read_text())
        settings["name"] = self.name
        settings["restapi"].update(listen=f"127.0.0.1:{self.api_port}", connect_address=f"127.0.0.1:{self.api_port}")
        settings["etcd3"]["hosts"] = [f"127.0.0.1:{self.etcd.client}"]
        settings["bootstrap"]["post_bootstrap"] = str(self.scripts / "post_bootstrap.sh")
        settings["postgresql"].update(listen=self.address, connect_address=self.address, data_dir=str(self.data),
                                      pgpass=str(self.folder / "pgpass"), bin_dir=PG_BIN,
                                      parameters={"unix_socket_directories": str(self.folder)})
        return settings

    def start(self) -> None:
        """Patroni through examples/patroni/entrypoint.sh, which reads the passwords from `secrets`."""
        if not self.folder.exists():
            self.folder.mkdir(mode=0o700)
            own(self.folder)
            self.config.write_text(json.dumps(self.settings(), indent=2))
            own(self.config)
        env = dict(os.environ, PATRONI_SECRETS_DIR=str(self.secrets), PATRONI_CONFIG=str(self.config),
                   ROSTER_DATABASE_PASSWORD_FILE=str(self.secrets / "roster_db_password"))
        self.proc = subprocess.Popen([*prefix(), "/bin/sh", str(self.scripts / "entrypoint.sh")], env=env,
                                     stdout=open(self.folder.parent / f"{self.name}.log", "a"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict]:
        try:
            return http(f"http://127.0.0.1:{self.api_port}{path}", method, body)
        except OSError:
            return 0, {}

    def is_primary(self) -> bool:
        return self.api("/primary")[0] == 200

    def postmaster(self) -> int | None:
        """The pid of this data folder's running postmaster (postmaster.pid outlives a SIGKILL: the pid counts only while
        it is still this folder's postmaster)."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            return pid if str(self.data).encode() in Path(f"/proc/{pid}/cmdline").read_bytes() else None
        except (OSError, ValueError, IndexError):
            return None

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-d", database, "-qAtc", sql],
                              capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, PGPASSWORD=self.passwords["postgres_superuser_password"], PGCONNECT_TIMEOUT="5"))
        if done.returncode != 0:
            raise RuntimeError(f"psql on {self.name}: {done.stderr.strip()}")
        return done.stdout.strip()

    def postgres(self) -> list[int]:
        """The postmaster and its children (every backend: each in a session of its own, so no process group holds them)."""
        postmaster = self.postmaster()
        if not postmaster:
            return []
        children = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
        return [postmaster, *children]

    def signal_postgres(self, sig: int) -> list[int]:
        pids = self.postgres()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def wait_postgres_gone(self, pids: list[int], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(Path(f"/proc/{pid}").exists() for pid in pids):
                return True
            time.sleep(0.1)
        return False

    def kill_patroni(self) -> None:
        """SIGKILL to Patroni alone: its PostgreSQL runs on, as after a crash of the Patroni process."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def kill_postgres(self) -> None:
        """SIGKILL to the postmaster and every backend at once."""
        self.wait_postgres_gone(self.signal_postgres(signal.SIGKILL), 20)

    def crash(self) -> None:
        """Patroni, the postmaster and every backend SIGKILLed at once: what a lost machine looks like to the others."""
        pids = self.postgres()
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        if self.proc:
            self.proc.wait(timeout=30)
        self.wait_postgres_gone(pids, 20)

    def freeze(self) -> None:
        """SIGSTOP to Patroni, the postmaster and every backend: a machine that stops answering, its sockets open."""
        pids = self.postgres()
        os.killpg(self.proc.pid, signal.SIGSTOP)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        self.frozen = pids

    def stop(self) -> None:
        """Patroni stops its PostgreSQL on SIGTERM; one left behind (or frozen) is stopped by its pids. The shared memory
        segment of a postmaster that was SIGKILLed is removed (the next postmaster of the folder would have)."""
        for pid in self.frozen:
            try:
                os.kill(pid, signal.SIGKILL)  # a stopped process dies on SIGKILL
            except ProcessLookupError:
                pass
        if self.proc and self.proc.poll() is None and self.frozen:
            os.killpg(self.proc.pid, signal.SIGKILL)
        stop_group(self.proc, signal.SIGTERM, 60)
        pids = self.signal_postgres(signal.SIGINT)
        if pids and not self.wait_postgres_gone(pids, 30):
            self.wait_postgres_gone(self.signal_postgres(signal.SIGKILL) or pids, 20)
        self.remove_shared_memory()

    def remove_shared_memory(self) -> None:
        """`ipcrm` the System V segment named in a dead postmaster's postmaster.pid, if nothing is attached to it."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
            key, shmid = (int(word) for word in lines[6].split())
        except (OSError, ValueError, IndexError):
            return
        for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[0]) == key and int(fields[1]) == shmid and int(fields[6]) == 0:
                subprocess.run(["ipcrm", "-m", str(shmid)], capture_output=True, timeout=10)


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # The files compose.yaml mounts as secrets, and the scripts of examples/patroni, readable by the postgres account.
        self.passwords = {name: secrets.token_urlsafe(18)
                          for name in ("postgres_superuser_password", "postgres_replication_password", "roster_db_password")}
        self.etcd = Etcd(folder)
        self.nodes = [Node(folder, f"pg{n}", self.etcd, self.passwords) for n in (1, 2, 3)]

    def by_name(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def leader(self) -> Node | None:
        return next((node for node in self.nodes if node.is_primary()), None)

    def members(self) -> list[dict]:
        for node in self.nodes:
            status, cluster = node.api("/cluster")
            if status == 200:
                return cluster.get("members", [])
        return []

    def describe(self) -> str:
        return ", ".join(f"{m['name']} {m['role']} {m['state']}" for m in self.members())

    def wait_healthy(self, count: int, timeout: float) -> None:
        """Until a leader runs with `count - 1` replicas running and one of them synchronous (when synchronous_mode is on)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            members = self.members()
            running = [m for m in members if m.get("state") in ("running", "streaming")]
            if len(running) == count and any(m["role"] == "leader" for m in running) \
                    and (count == 1 or any(m["role"] == "sync_standby" for m in running)):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the cluster was not healthy within {timeout:.0f} s: {self.describe()}")

    def start(self) -> Node:
        for name, files in (("secrets", {f"{n}": f"{v}\n" for n, v in self.passwords.items()}),
                            ("scripts", {n: (EXAMPLE / n).read_text() for n in ("entrypoint.sh", "post_bootstrap.sh")})):
            (self.folder / name).mkdir(mode=0o700)
            own(self.folder / name)
            for file, text in files.items():
                (self.folder / name / file).write_text(text)
                (self.folder / name / file).chmod(0o700)
                own(self.folder / name / file)
        self.etcd.start()
        first = self.nodes[0]
        first.start()  # bootstraps the cluster: initdb, then it is the leader
        deadline = time.monotonic() + 120
        while not first.is_primary():
            if time.monotonic() > deadline or (first.proc and first.proc.poll() is not None):
                raise RuntimeError(f"pg1 did not bootstrap: {(first.folder.parent / 'pg1.log').read_text()[-2000:]}")
            time.sleep(0.5)
        for node in self.nodes[1:]:
            node.start()  # each clones the leader with pg_basebackup
        self.wait_healthy(3, 180)
        made = first.psql("SELECT rolsuper FROM pg_roles WHERE rolname = 'roster'") + " " + \
            first.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'roster'")
        if made != "f roster":
            raise RuntimeError(f"post_bootstrap.sh did not make the roster role and database: {made!r}")
        return first

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        stop_group(self.etcd.proc, signal.SIGTERM, 30)


class Replica(ServeReplica):
    """One `roster serve`; its log lines kept with their arrival time, and the database ones echoed."""

    def __init__(self, roster: str, name: str, port: int, env: dict[str, str], log: list[tuple[float, str, str]]) -> None:
        self.log = log
        super().__init__(roster, name, port, env, ready_within=120)

    def echo(self) -> None:
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.log.append((time.time(), self.name, line))
            if "Database" in line or "error" in line.lower() or "warning" in line.lower():
                print(f"[roster {self.name}] {line}", flush=True)

    def stop(self) -> None:
        stop_group(self.proc, signal.SIGTERM, 30)


class Clients:
    """One writer per replica creating users all along, and a poller of every replica's readiness."""

    def __init__(self, replicas: list[Replica], token: str) -> None:
        self.replicas = replicas
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        self.lock = threading.Lock()
        self.created: dict[str, str] = {}  # id -> userName, acknowledged with 201
        # (replica, sent, answered, status, Retry-After, the error's detail); status 0: no answer within REQUEST_TIMEOUT
        self.answers: list[tuple[str, float, float, int, str, str]] = []
        self.in_flight: dict[int, tuple[str, float]] = {}  # request number -> (replica, sent)
        self.readiness: list[tuple[float, str, int, str]] = []  # (time, replica, status, reasons), on change only
        self.writing = threading.Event()
        self.stopping = threading.Event()
        self.count = 0
        self.threads = [threading.Thread(target=self.write, args=(r,), daemon=True) for r in replicas]
        self.threads.append(threading.Thread(target=self.poll, daemon=True))

    def start(self) -> None:
        self.writing.set()
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)

    def create(self, replica: Replica, name: str) -> tuple[int, str | None]:
        request = urllib.request.Request(f"{replica.base}/scim/v2/Users", method="POST", headers=self.headers,
                                         data=json.dumps({"schemas": [USER], "userName": name}).encode())
        sent = time.time()
        with self.lock:
            self.count += 1
            number = self.count
            self.in_flight[number] = (replica.name, sent)
        user_id, retry, detail = None, "", ""
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                status = response.status
                user_id = json.loads(response.read())["id"]
        except urllib.error.HTTPError as err:
            status, retry = err.code, err.headers.get("retry-after") or ""
            try:
                body = json.loads(err.read())
                detail = str(body.get("detail") or body.get("error", {}).get("code") or "")[:100]
            except ValueError:
                pass
        except OSError as err:
            status, detail = 0, type(err).__name__  # no answer: nothing acknowledged
        with self.lock:
            del self.in_flight[number]
            self.answers.append((replica.name, sent, time.time(), status, retry, detail))
            if status == 201 and user_id:
                self.created[user_id] = name
        return status, user_id

    def write(self, replica: Replica) -> None:
        n = 0
        while not self.stopping.is_set():
            if not self.writing.wait(timeout=0.5):
                continue
            n += 1
            self.create(replica, f"pc-{replica.name}-{n}@example.com")
            time.sleep(WRITE_PAUSE)

    def poll(self) -> None:
        last: dict[str, tuple[int, str]] = {}
        while not self.stopping.is_set():
            for replica in self.replicas:
                try:
                    status, body = call(f"{replica.base}/api/health/ready", {})
                    reasons = ",".join(body.get("reasons", []))
                except (OSError, ValueError):
                    status, reasons = 0, "no answer"
                if last.get(replica.name) != (status, reasons):
                    last[replica.name] = (status, reasons)
                    with self.lock:
                        self.readiness.append((time.time(), replica.name, status, reasons))
            time.sleep(0.2)

    def wait_served(self, since: float, timeout: float) -> bool:
        """Until every replica has acknowledged a write sent after `since`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                served = {a[0] for a in self.answers if a[1] >= since and a[3] == 201}
            if served >= {r.name for r in self.replicas}:
                return True
            time.sleep(0.2)
        return False


def report(what: str, t0: float, clients: Clients, log: list[tuple[float, str, str]], failures: list[str],
           promoted: float | None = None, writers: list[str] | None = None, until: float | None = None) -> None:
    """What happened after `t0` (to `until`): the longest time without an acknowledged write on each replica named in
    `writers` (all by default), the other answers clients got, readiness, and Roster's "Database:" log lines."""
    until = until or time.time()
    with clients.lock:
        answers = [a for a in clients.answers if t0 - 10 <= a[2] <= until]
        readiness = [r for r in clients.readiness if t0 - 0.5 <= r[0] <= until]
    if promoted:
        say(f"{what}: Patroni's new leader answered /primary at t0+{promoted - t0:.1f} s")
    for replica in clients.replicas:
        if writers is not None and replica.name not in writers:
            continue
        mine = sorted(a[1:] for a in answers if a[0] == replica.name)
        acknowledged = [done for _, done, status, _, _ in mine if status == 201]
        before = [t for t in acknowledged if t < t0]
        after = [t for t in acknowledged if t >= t0]
        if not after:
            failures.append(f"{what}: replica {replica.name} acknowledged no write after t0")
            continue
        points = ([before[-1]] if before else []) + after + [until]  # to `until`: writes may still be waiting
        gap, start = max(((b - a, a) for a, b in zip(points, points[1:])), default=(0.0, t0))
        refused = [(status, retry, detail) for sent, done, status, retry, detail in mine if status != 201 and done >= t0]
        kinds = sorted({f"{status} {detail}".strip() for status, _, detail in refused})
        with_retry = sum(1 for status, retry, _ in refused if retry)
        slowest = max((done - sent for sent, done, status, _, _ in mine if status == 201 and done >= t0), default=0)
        say(f"{what}: replica {replica.name}: longest time without an acknowledged write {gap:.2f} s "
            f"(t0{start - t0:+.2f} s to t0{start + gap - t0:+.2f} s); {len(refused)} other answers "
            f"({with_retry} with Retry-After {sorted({r for _, r, _ in refused if r})}): {kinds}; "
            f"slowest acknowledged write {slowest:.2f} s")
        if any(status not in (0, 503) for status, _, _ in refused):
            failures.append(f"{what}: replica {replica.name} answered {kinds} (503 expected while there is no primary)")
        if any(status == 503 and not retry for status, retry, _ in refused):
            failures.append(f"{what}: replica {replica.name} answered 503 without Retry-After")
    for at, name, status, reasons in readiness:
        say(f"{what}: readiness of {name} at t0{at - t0:+.1f} s: {status} {reasons}")
    for at, name, line in log:
        if t0 - 0.5 <= at <= until and "Database:" in line:
            say(f"{what}: log of {name} at t0{at - t0:+.2f} s: {line[line.find('Database:'):]}")


def delivered(receiver: Receiver) -> list[dict]:
    """Every delivery's event, in arrival order."""
    with receiver.lock:
        return [json.loads(body)["data"] for _, body in receiver.requests]


def wait_new_leader(cluster: Cluster, old: Node, timeout: float) -> tuple[Node, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in cluster.nodes:
            if node is not old and node.is_primary():
                return node, time.time()
        time.sleep(0.2)
    raise RuntimeError(f"no new leader within {timeout:.0f} s: {cluster.describe()}")


def set_synchronous(cluster: Cluster, leader: Node, on: bool) -> None:
    """Turns Patroni's synchronous_mode on or off (dynamic configuration) and waits until the leader applied it."""
    status, _ = leader.api("/config", "PATCH", {"synchronous_mode": on})
    if status != 200:
        raise RuntimeError(f"setting synchronous_mode to {on} answered {status}")
    deadline = time.monotonic() + 60
    while True:
        names = leader.psql("SHOW synchronous_standby_names")
        if (names != "") == on and (not on or any(m["role"] == "sync_standby" for m in cluster.members())):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"synchronous_mode {on} was not applied within 60 s (synchronous_standby_names '{names}')")
        time.sleep(0.5)


def verify_acknowledged(what: str, base: str, clients: Clients, admin: dict[str, str], receiver: Receiver, failures: list[str],
                        lost_on_purpose: tuple[set[str], set[str]]) -> None:
    """Every acknowledged user is there (but the users and events (c) lost), one event per user, a feed without gaps,
    every event delivered in order; and how many deliveries were of events the feed does not have (other than (c)'s)."""
    lost_users, lost_events = lost_on_purpose
    with clients.lock:
        created = {uid for uid in clients.created if uid not in lost_users}
    missing = [uid for uid in created if call(f"{base}/scim/v2/Users/{uid}", clients.headers)[0] != 200]
    status, listed = call(f"{base}/scim/v2/Users?count=1", clients.headers)
    total = listed.get("totalResults")
    if missing:
        failures.append(f"{what}: {len(missing)} of {len(created)} acknowledged users are not on the primary")
    else:
        say(f"ok: {what}: all {len(created)} acknowledged users are on the primary ({total} users in all: a write "
            f"answered 503, or not at all, may have committed too)")
    events = all_events(base, admin)
    users = [e for e in events if e["type"] == "user.created"]
    if len({e["resource_id"] for e in users}) != len(users) or len(users) != total:
        failures.append(f"{what}: {len(users)} user.created events for {total} users")
    elif [e["sequence"] for e in events] != list(range(1, len(events) + 1)):
        failures.append(f"{what}: the feed is not 1..{len(events)} without a gap")
    else:
        say(f"ok: {what}: one user.created event per user; the feed is 1..{len(events)} without a gap")
    receiver.wait(len(events), 60, distinct=True)
    got = [e["id"] for e in delivered(receiver)]
    order = list(dict.fromkeys(got))
    expected = [e["id"] for e in events]
    if [i for i in order if i in set(expected)] != expected:
        failures.append(f"{what}: the receiver got {len(set(got) & set(expected))} of {len(expected)} events, or out of order")
    else:
        say(f"ok: {what}: the receiver got all {len(expected)} events in order ({len(got) - len(order)} sent twice)")
    # A commit is visible on the primary before its standby has it: the dispatcher may deliver its event, and a failover
    # then lose the change (never acknowledged to its client).
    ghosts = [i for i in order if i not in set(expected) and i not in lost_events]
    say(f"{what}: {len(ghosts)} deliveries of events the feed does not have (changes visible on a primary that lost them)")


def check(roster: str, port: int, failures: list[str]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="roster-patroni-"))
    os.chmod(folder, 0o755)
    cluster = Cluster(folder)
    replicas: list[Replica] = []
    receiver = Receiver()
    clients: Clients | None = None
    log: list[tuple[float, str, str]] = []
    try:
        started = time.time()
        leader = cluster.start()
        say(f"etcd on :{cluster.etcd.client}; {cluster.describe()} ({time.time() - started:.0f} s); "
            f"PostgreSQL on {', '.join(f'{n.name} :{n.pg_port}' for n in cluster.nodes)}")

        password_file = folder / "roster_password"
        password_file.write_text(cluster.passwords["roster_db_password"] + "\n")
        key = "radm_" + secrets.token_urlsafe(32)
        admin = {"X-Admin-API-Key": key, "Content-Type": "application/json"}
        hosts = ",".join(node.address for node in cluster.nodes)
        url = f"postgres://roster@{hosts}/roster?target_session_attrs=read-write&connect_timeout=3"
        env = dict(os.environ, ROSTER_DATABASE_URL=url, ROSTER_DATABASE_PASSWORD_FILE=str(password_file), ROSTER_ADMIN_KEY=key,
                   ROSTER_SECRET_KEY="k1:" + base64.b64encode(secrets.token_bytes(32)).decode(), ROSTER_HOST="127.0.0.1",
                   ROSTER_LOG_LEVEL="info", ROSTER_WEBHOOK_ALLOW_PRIVATE_URLS="true")
        say(f"ROSTER_DATABASE_URL={url}")
        a = Replica(roster, "A", port, env, log)
        replicas.append(a)
        b = Replica(roster, "B", port + 1, env, log)
        replicas.append(b)
        status, token = call(f"{a.base}/api/v1/scim/tokens", admin, {"name": "patroni"}, "POST")
        if status != 201:
            raise RuntimeError(f"creating a SCIM token answered {status}: {token}")
        receiver.start()
        status, subscription = call(f"{a.base}/api/v1/webhooks", admin, {"url": receiver.url}, "POST")
        if status != 201:
            raise RuntimeError(f"creating a webhook subscription answered {status}: {subscription}")
        clients = Clients(replicas, token["token"])
        clients.start()
        time.sleep(3)
        say(f"writing through A and B: {len(clients.created)} users acknowledged so far")

        # (a) A planned switchover to the synchronous standby.
        sync = next(m["name"] for m in cluster.members() if m["role"] == "sync_standby")
        t0 = time.time()
        done = subprocess.run(["patronictl", "-c", str(leader.config), "switchover", "--primary", leader.name,
                               "--candidate", sync, "--force"], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"patronictl switchover failed: {done.stdout[-800:]} {done.stderr[-800:]}")
        returned = time.time()
        new, at = wait_new_leader(cluster, leader, FAILOVER_WAIT)
        say(f"(a) t0: patronictl switchover --primary {leader.name} --candidate {sync} --force; it returned at "
            f"t0+{returned - t0:.1f} s")
        if not clients.wait_served(at, FAILOVER_WAIT):
            failures.append("(a) switchover: the replicas did not acknowledge writes again")
        time.sleep(3)
        report("(a) switchover", t0, clients, log, failures, at)
        cluster.wait_healthy(3, 120)
        say(f"(a) after: {cluster.describe()}")

        # (b) The leader's machine is lost: Patroni and PostgreSQL SIGKILLed.
        leader = new
        t0 = time.time()
        leader.crash()
        say(f"(b) t0: {leader.name} (leader): Patroni, the postmaster and every backend SIGKILLed")
        crashed = leader
        leader, at = wait_new_leader(cluster, crashed, FAILOVER_WAIT)
        if not clients.wait_served(at, FAILOVER_WAIT):
            failures.append("(b) crash: the replicas did not acknowledge writes again")
        time.sleep(3)
        report("(b) crash", t0, clients, log, failures, at)
        say(f"(b) after: {cluster.describe()}")
        clients.writing.clear()
        time.sleep(1)
        verify_acknowledged("(a)+(b) synchronous", b.base, clients, admin, receiver, failures, (set(), set()))

        # The crashed node rejoins (Patroni rewinds it) as a standby.
        t0 = time.time()
        crashed.start()
        cluster.wait_healthy(3, 180)
        say(f"{crashed.name} rejoined as a standby in {time.time() - t0:.0f} s: {cluster.describe()}")

        lost = check_async(cluster, leader, a, clients, receiver, admin, log, failures)
        leader = next(node for node in cluster.nodes if node.is_primary())
        leader = check_zombie(cluster, leader, clients, log, failures)
        clients.writing.clear()
        time.sleep(1)
        verify_acknowledged("(d) synchronous again", b.base, clients, admin, receiver, failures, lost)

        # The two nodes (c) and (d) stopped rejoin; Patroni rewinds what they committed alone.
        t0 = time.time()
        for node in cluster.nodes:
            if node.proc is None or node.proc.poll() is not None:
                node.start()
        cluster.wait_healthy(3, 180)
        say(f"the stopped nodes rejoined as standbys in {time.time() - t0:.0f} s: {cluster.describe()}")
        check_frozen(cluster, leader, clients, log, failures)
        clients.writing.clear()
        time.sleep(1)
        verify_acknowledged("(e) synchronous", b.base, clients, admin, receiver, failures, lost)
    except (RuntimeError, OSError, subprocess.TimeoutExpired, KeyError, ValueError, StopIteration, Watchdog) as err:
        failures.append(f"{type(err).__name__}: {err}")
    finally:
        signal.alarm(0)  # the clean-up is bounded by its own waits
        if clients:
            clients.stop()
        for replica in replicas:
            replica.stop()
        receiver.stop()
        cluster.stop()
        if failures:
            for name in ("etcd", *(node.name for node in cluster.nodes)):
                path = folder / f"{name}.log"
                if path.exists():
                    say(f"--- the end of {name}.log ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-25:]))
        shutil.rmtree(folder, ignore_errors=True)


def check_async(cluster: Cluster, leader: Node, a: Replica, clients: Clients, receiver: Receiver, admin: dict[str, str],
                log: list[tuple[float, str, str]], failures: list[str]) -> tuple[set[str], set[str]]:
    """(c) Asynchronous replication: what a failover loses, and the sequence numbers it gives again. Returns the ids of
    the acknowledged users it lost, and of their events the receiver was sent."""
    set_synchronous(cluster, leader, False)
    standbys = [node for node in cluster.nodes if node is not leader and node.api("/replica")[0] == 200]
    say(f"(c) asynchronous: synchronous_mode off, {leader.name} leader, standbys {', '.join(n.name for n in standbys)}")
    before = all_events(a.base, admin)
    head = before[-1]["sequence"]
    receiver.wait(len(before), 60, distinct=True)
    # The leader's WAL senders stop (SIGSTOP): the standbys receive nothing more, as when replication lags. (Stopping
    # the standbys' WAL receivers instead is not enough: what the sender wrote meanwhile waits in their sockets.)
    walsenders = [int(pid) for pid in leader.psql("SELECT pid FROM pg_stat_replication").split()]
    if len(walsenders) != len(standbys):
        raise RuntimeError(f"{len(walsenders)} WAL senders on {leader.name} for {len(standbys)} standbys")
    for pid in walsenders:
        os.kill(pid, signal.SIGSTOP)
    crashed = False
    try:
        acknowledged = []
        for n in range(ASYNC_WRITES):
            status, uid = clients.create(a, f"async-{n}@example.com")
            if status == 201:
                acknowledged.append(uid)
        receiver.wait(len(before) + len(acknowledged), 30, distinct=True)
        deliveries = delivered(receiver)
        seen = {e["sequence"]: e["id"] for e in deliveries}
        lost_head = max(seen)
        say(f"(c) {len(acknowledged)} users acknowledged by {leader.name} while its WAL senders were stopped; "
            f"the receiver got their events, sequence {head + 1}..{lost_head}")
        t0 = time.time()
        leader.crash()  # the stopped WAL senders with it
        crashed = True
    finally:
        if not crashed:
            for pid in walsenders:
                os.kill(pid, signal.SIGCONT)
    say(f"(c) t0: {leader.name} SIGKILLed (Patroni, and PostgreSQL with its stopped WAL senders)")
    new, at = wait_new_leader(cluster, leader, FAILOVER_WAIT)
    deadline = time.monotonic() + FAILOVER_WAIT
    after = []
    while len(after) < AFTER_ASYNC and time.monotonic() < deadline:
        status, uid = clients.create(a, f"after-{len(after)}@example.com")
        if status == 201:
            after.append(uid)
        else:
            time.sleep(0.5)
    report("(c) asynchronous crash", t0, clients, log, failures, at, writers=[a.name])
    if len(after) < AFTER_ASYNC:
        raise RuntimeError(f"the new primary {new.name} did not take writes")

    lost = {uid for uid in acknowledged if call(f"{a.base}/scim/v2/Users/{uid}", clients.headers)[0] == 404}
    events = all_events(a.base, admin)
    by_sequence = {e["sequence"]: e["id"] for e in events}
    reused = [s for s in range(head + 1, lost_head + 1) if s in by_sequence and by_sequence[s] != seen.get(s)]
    receiver.wait(len(set(seen.values())) + AFTER_ASYNC, 30, distinct=True)
    again = [e for e in delivered(receiver)[len(deliveries):] if e["sequence"] in seen and e["id"] != seen[e["sequence"]]]
    status, page = call(f"{a.base}/api/v1/events?after={lost_head}", admin)
    missed = [e for e in events if head < e["sequence"] <= lost_head and e["id"] != seen.get(e["sequence"])]
    say(f"(c) lost: {len(lost)} of {len(acknowledged)} acknowledged users are not on the new primary {new.name}, nor their "
        f"events; the receiver had been sent webhooks for those events (sequence {head + 1}..{lost_head})")
    say(f"(c) the new primary numbers its events from {head + 1} again: {len(reused)} sequence numbers the receiver had "
        f"seen now name other events; {len(again)} deliveries came with such a sequence and another webhook-id")
    say(f"(c) a reader resuming from its cursor ({lost_head}) reads {len(page.get('data', []))} events: it never sees the "
        f"{len(missed)} events numbered {head + 1}..{lost_head} on the new primary")
    if len(lost) != len(acknowledged) or not reused:
        failures.append(f"(c) expected every acknowledged user lost and sequence numbers reused: lost {len(lost)}, reused {len(reused)}")
    return lost, {seen[n] for n in range(head + 1, lost_head + 1) if seen.get(n) not in set(by_sequence.values())}


def check_zombie(cluster: Cluster, leader: Node, clients: Clients, log: list[tuple[float, str, str]],
                 failures: list[str]) -> Node:
    """(d) Patroni alone dies on the leader and its PostgreSQL runs on: Patroni promotes the synchronous standby after the
    leader key expires, and the old primary is still read-write. What Roster does, then after the old primary is
    stopped (fenced)."""
    set_synchronous(cluster, leader, True)
    clients.writing.set()
    time.sleep(3)
    t0 = time.time()
    leader.kill_patroni()
    say(f"(d) t0: {leader.name}'s Patroni SIGKILLed; its PostgreSQL runs on as a primary")
    new, at = wait_new_leader(cluster, leader, FAILOVER_WAIT)
    time.sleep(ZOMBIE_WATCH)
    still = leader.psql("SELECT pg_is_in_recovery()")
    with clients.lock:
        acknowledged_after = [a for a in clients.answers if a[1] >= at + 1 and a[3] == 201]
        hanging = [(name, time.time() - sent) for name, sent in clients.in_flight.values()]
    report("(d) Patroni killed, PostgreSQL left running", t0, clients, log, failures, at, until=time.time())
    say(f"(d) {ZOMBIE_WATCH} s after {new.name} was promoted: the old primary {leader.name} answers pg_is_in_recovery() = "
        f"{still}; {len(acknowledged_after)} writes sent after the promotion were acknowledged; {len(hanging)} requests "
        f"waiting (the oldest for {max((s for _, s in hanging), default=0):.0f} s)")
    moved = [line for at_, _, line in log if at_ >= t0 and "is no longer" in line]
    say(f"(d) Roster's log since t0: {len(moved)} 'is no longer a read-write server' lines")
    t1 = time.time()
    leader.kill_postgres()
    say(f"(d) t1: {leader.name}'s PostgreSQL SIGKILLed (fenced, as Patroni's watchdog would by resetting its machine)")
    if not clients.wait_served(t1, FAILOVER_WAIT):
        failures.append("(d) after fencing: the replicas did not acknowledge writes again")
    time.sleep(3)
    report("(d) after fencing", t1, clients, log, failures)
    return new


def check_frozen(cluster: Cluster, leader: Node, clients: Clients, log: list[tuple[float, str, str]],
                 failures: list[str]) -> None:
    """(e) The leader's machine freezes: SIGSTOP to its Patroni, postmaster and backends. Its sockets stay open, so
    Roster's connections get no FIN and no RST: its watch notices when a check session meets connect_timeout."""
    clients.writing.set()
    time.sleep(3)
    t0 = time.time()
    leader.freeze()
    say(f"(e) t0: {leader.name} (leader) frozen: SIGSTOP to Patroni, the postmaster and every backend")
    try:
        new, at = wait_new_leader(cluster, leader, FAILOVER_WAIT)
        if not clients.wait_served(at, FAILOVER_WAIT):
            failures.append("(e) frozen leader: the replicas did not acknowledge writes again")
        time.sleep(3)
        with clients.lock:
            hanging = [(name, time.time() - sent) for name, sent in clients.in_flight.values() if sent < at]
        report("(e) frozen leader", t0, clients, log, failures, at)
        say(f"(e) requests sent before the promotion and still waiting: {len(hanging)}")
        if hanging:
            failures.append(f"(e) {len(hanging)} requests still wait on the frozen server")
    finally:
        leader.stop()  # SIGKILL: a stopped process dies of it


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", required=True, help="the roster binary")
    parser.add_argument("--port", type=int, default=18200, help="replica A's port; B takes the next")
    args = parser.parse_args()
    for tool in ("patroni", "patronictl", "etcd", "psql"):
        if shutil.which(tool) is None:
            say(f"{tool} is not installed (apt-get install -y patroni etcd-server postgresql-15)")
            return 2
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(WATCHDOG)
    failures: list[str] = []
    started = time.monotonic()
    try:
        check(args.roster, args.port, failures)
    finally:
        signal.alarm(0)
    for failure in failures:
        say(f"FAIL: {failure}")
    say(f"summary: {'passed' if not failures else f'{len(failures)} failures'} in {time.monotonic() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
