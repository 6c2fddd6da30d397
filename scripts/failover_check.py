"""PostgreSQL failover with nothing lost, and a dead Roster replica's webhooks taken over at once (issue #20).

On loopback, with PostgreSQL's own streaming replication as Patroni runs it:
1. a primary and a hot standby made with pg_basebackup, the standby synchronous (`synchronous_commit = on`,
   `synchronous_standby_names` naming it: the documented zero-loss setting);
2. Roster replica A, then replica B, on `postgres://…@primary,standby/roster?target_session_attrs=read-write`;
   three webhook subscriptions, each to its own receiver that verifies every delivery with `standardwebhooks`;
   writers creating and deactivating users through both replicas, and a cursor reader of the pull API, all the time;
3. replica A (which holds every subscription's lease: it ran alone first) is SIGKILLed: B must take its
   subscriptions over within 3 s, with the default 30 s lease (the lease is bound to A's database session);
4. the primary's postmaster and all its processes are SIGKILLed at once, and once replica B reports no primary (at most 5 s later) the standby is
   promoted (`pg_promote()`, as Patroni does), with no restart of Roster;
5. then it checks: every write a client saw acknowledged is on the new primary; every committed change has
   exactly one event; the cursor reader saw every sequence number once, in order, without a gap; every
   subscription got every event in order (duplicates counted), none going more than 10 s without a delivery after
   the primary died; and it prints the time without service, the takeover time, the delivery lag and those pauses.

Bounded in time, loopback only; it stops only the processes it started (by pid) and removes its folders.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook_check import PATCH, USER, Receiver, call, verified  # noqa: E402

TAKEOVER_LIMIT = 3.0  # s: a dead replica's subscriptions must be taken over within this (issue #20)
# s: the longest a subscription may go without a delivery after the primary's death, while it still has events to get. Its
# worker's statement lost with the old primary once held it for the whole lease (30 s); the failover itself takes 1-2 s.
PAUSE_LIMIT = 10.0
LOAD_WRITERS = 4
WRITE_PAUSE = 0.1  # s between one writer's requests: about 40 writes/s in all, below what delivery keeps up with


def say(text: str) -> None:
    print(f"failover: {text}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def binary(name: str) -> str:
    return shutil.which(name) or f"/usr/lib/postgresql/15/bin/{name}"


class Server:
    """One PostgreSQL 15 on 127.0.0.1 in a folder of its own, as the postgres account when run as root."""

    AS_POSTGRES = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--pdeathsig", "INT", "--"]

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder / name
        self.name = name
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.prefix = self.AS_POSTGRES if os.geteuid() == 0 else []

    @property
    def data(self) -> str:
        return str(self.folder / "data")

    def run(self, command: list[str], what: str) -> None:
        done = subprocess.run([*self.prefix, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed: {done.stderr.strip()[-1500:]}")

    def prepare(self) -> None:
        self.folder.mkdir(mode=0o700)
        if self.prefix:
            shutil.chown(self.folder, "postgres", "postgres")

    def start(self, *settings: str) -> None:
        options = [item for setting in settings for item in ("-c", setting)]
        # Its own process group, so that a SIGKILL can take the postmaster and every backend at once, like a crash.
        self.proc = subprocess.Popen(
            [*self.prefix, binary("postgres"), "-D", self.data, "-h", "127.0.0.1", "-p", str(self.port), "-k", str(self.folder),
             "-c", "lc_messages=C", "-c", "max_connections=100", *options],
            stdout=open(self.folder.parent / f"{self.name}.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start: {(self.folder.parent / f'{self.name}.log').read_text()[-1500:]}")
            time.sleep(0.1)

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-qAtc", sql],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"psql on {self.name}: {done.stderr.strip()}")
        return done.stdout.strip()

    def crash(self) -> None:
        """SIGKILL to the postmaster and every backend at once: what a crashed server looks like to its clients.
        Each child of the postmaster leads a process group of its own (PostgreSQL calls setsid() in every child), so a
        killpg reaches the postmaster alone and its backends would end by themselves a moment later, each after saying
        so to its client; they are found by their parent ids and killed with it."""
        if self.proc and self.proc.poll() is None:
            for pid in [*descendants(self.proc.pid), self.proc.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)


def descendants(root: int) -> list[int]:
    """The processes below `root`, children first found, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The parent id is the 2nd field after the command's closing parenthesis in /proc/<pid>/stat.
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [root]
    while queue:
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def replicated_pair(folder: Path) -> tuple[Server, Server]:
    """A primary and a synchronous hot standby, streaming."""
    primary, standby = Server(folder, "primary"), Server(folder, "standby")
    primary.prepare()
    primary.run([binary("initdb"), "-D", primary.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"], "initdb")
    primary.start("wal_level=replica", "max_wal_senders=4", "synchronous_commit=on")
    primary.psql("CREATE DATABASE roster")
    standby.prepare()
    standby.run([binary("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "-D", standby.data,
                 "-X", "stream", "-c", "fast", "-R"], "pg_basebackup")
    # The standby names itself (the primary waits for "standby"); once promoted it waits for no one, as Patroni's
    # primary does when its only synchronous standby is gone.
    standby.start("hot_standby=on", "synchronous_standby_names=",
                  f"primary_conninfo=host=127.0.0.1 port={primary.port} user=postgres application_name=standby")
    # Synchronous from now on: a commit returns once the standby has flushed it.
    primary.psql("ALTER SYSTEM SET synchronous_standby_names = 'standby'")
    primary.psql("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 60
    while primary.psql("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'") != "sync":
        if time.monotonic() > deadline:
            raise RuntimeError("the standby did not become synchronous within 60 s")
        time.sleep(0.2)
    return primary, standby


class Replica:
    """One `roster serve`, its output echoed with a prefix."""

    def __init__(self, roster: str, name: str, port: int, env: dict[str, str], ready_within: float = 90) -> None:
        self.name = name
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([roster, "serve"], env=dict(env, ROSTER_PORT=str(port)), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self.echo, daemon=True).start()
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if call(f"{self.base}/api/health/ready", {})[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"replica {name} did not become ready")

    def echo(self) -> None:
        for line in self.proc.stdout:
            print(f"[replica {self.name}] {line.decode(errors='replace').rstrip()}", flush=True)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class Load:
    """Writers creating users and deactivating every third, through whichever replicas are listed as up; every answer
    recorded with its time. A write counts as acknowledged only with its 2xx."""

    def __init__(self, token: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        self.replicas: list[str] = []
        self.lock = threading.Lock()
        self.created: dict[str, str] = {}  # id -> userName, acknowledged
        self.deactivated: set[str] = set()  # ids, acknowledged
        self.answers: list[tuple[float, float, int, str]] = []  # (sent, answered, status, retry-after or "")
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.write, args=(n,), daemon=True) for n in range(LOAD_WRITERS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def send(self, base: str, method: str, path: str, body: dict) -> tuple[int, dict]:
        import json
        import urllib.request

        request = urllib.request.Request(base + "/scim/v2" + path, data=json.dumps(body).encode(), method=method, headers=self.headers)
        started = time.time()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text, retry = response.status, response.read(), ""
        except urllib.error.HTTPError as err:
            status, text, retry = err.code, err.read(), err.headers.get("retry-after") or ""
        except OSError:
            status, text, retry = 0, b"", ""  # the replica is gone: nothing acknowledged
        with self.lock:
            self.answers.append((started, time.time(), status, retry))
        try:
            return status, json.loads(text) if text else {}
        except ValueError:
            return status, {}

    def write(self, writer: int) -> None:
        n = 0
        while not self.stopping.is_set():
            with self.lock:
                up = list(self.replicas)
            base = up[n % len(up)]
            n += 1
            name = f"fo-{writer}-{n}"
            status, user = self.send(base, "POST", "/Users", {"schemas": [USER], "userName": name})
            time.sleep(WRITE_PAUSE)
            if status != 201:
                continue
            with self.lock:
                self.created[user["id"]] = name
            if n % 3 == 0:
                status, _ = self.send(base, "PATCH", f"/Users/{user['id']}", {
                    "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]})
                if status in (200, 204):
                    with self.lock:
                        self.deactivated.add(user["id"])


class CursorReader:
    """Reads the pull API by cursor all along, as an application would: every sequence number it sees, in order."""

    def __init__(self, admin: dict[str, str]) -> None:
        self.admin = admin
        self.base = ""
        self.sequences: list[int] = []
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.read, daemon=True)

    def read(self) -> None:
        cursor = None
        while not self.stopping.is_set():
            query = "limit=500" + (f"&after={cursor}" if cursor else "")
            try:
                status, page = call(f"{self.base}/api/v1/events?{query}", self.admin)
            except (OSError, ValueError) as err:
                status, page = 0, {}
                self.errors.append(f"{type(err).__name__}: {err}")
            if status == 200:
                self.sequences += [event["sequence"] for event in page["data"]]
                cursor = page.get("next_cursor") or cursor
                if page["data"]:
                    continue
            time.sleep(0.2)


def all_events(base: str, admin: dict[str, str]) -> list[dict]:
    events, cursor = [], None
    while True:
        status, page = call(f"{base}/api/v1/events?limit=1000" + (f"&after={cursor}" if cursor else ""), admin)
        if status != 200:
            raise RuntimeError(f"reading the events answered {status}: {page}")
        events += page["data"]
        if not page["data"]:
            return events
        cursor = page["next_cursor"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def check(roster: str, port: int, failures: list[str]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="roster-failover-"))
    os.chmod(folder, 0o755)
    primary = standby = None
    replicas: list[Replica] = []
    # Slow receivers while replica A is the only one: its workers never catch up, so it holds every lease when it dies.
    receivers = [Receiver(delay=0.05) for _ in range(3)]
    load: Load | None = None
    reader: CursorReader | None = None
    try:
        primary, standby = replicated_pair(folder)
        say(f"primary on :{primary.port}, synchronous standby on :{standby.port}, streaming")
        key = "radm_" + secrets.token_urlsafe(32)
        admin = {"X-Admin-API-Key": key, "Content-Type": "application/json"}
        url = (f"postgres://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/roster"
               "?target_session_attrs=read-write&sslmode=disable&connect_timeout=2")
        # The default lease (30 s): a takeover within 3 s comes from the lease being bound to the dead replica's session.
        env = dict(os.environ, ROSTER_DATABASE_URL=url, ROSTER_ADMIN_KEY=key, ROSTER_HOST="127.0.0.1", ROSTER_LOG_LEVEL="warning",
                   ROSTER_SECRET_KEY="k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
                   ROSTER_WEBHOOK_ALLOW_PRIVATE_URLS="true", ROSTER_WEBHOOK_RETRY_SCHEDULE="0,0.5,0.5,1,1,1,1,1,1,1,1,1,1,1,1")
        a = Replica(roster, "A", port, env)
        replicas.append(a)
        status, token = call(f"{a.base}/api/v1/scim/tokens", admin, {"name": "failover"}, "POST")
        if status != 201:
            raise RuntimeError(f"creating a SCIM token answered {status}: {token}")
        subscriptions = []
        for receiver in receivers:
            receiver.start()
            status, subscription = call(f"{a.base}/api/v1/webhooks", admin, {"url": receiver.url}, "POST")
            if status != 201:
                raise RuntimeError(f"creating a subscription answered {status}: {subscription}")
            subscriptions.append(subscription)

        load = Load(token["token"])
        load.replicas = [a.base]
        load.start()
        reader = CursorReader(admin)
        reader.base = a.base
        reader.thread.start()
        alone = time.time()
        time.sleep(3)  # A alone: it takes every subscription's lease
        b = Replica(roster, "B", port + 1, env)
        replicas.append(b)
        reader.base = b.base
        say(f"replica B ready; replica A ran alone for {time.time() - alone:.1f} s")

        # A dies mid-delivery, holding every lease. B must take its subscriptions within TAKEOVER_LIMIT.
        with load.lock:
            load.replicas = [b.base]
        killed_replica = time.time()
        a.kill()
        for receiver in receivers:
            receiver.delay = 0
        say("replica A (holding every subscription's lease) SIGKILLed")
        time.sleep(5)

        # The primary is lost; a second later the standby is promoted, as Patroni would.
        killed_primary = time.time()
        primary.crash()
        say("primary SIGKILLed (postmaster and every backend)")
        # Patroni promotes once its leader key has expired; here, once replica B has seen there is no primary
        # (its readiness says so), and at the latest 5 s after the crash.
        readiness: list[str] = []
        while time.time() < killed_primary + 5 and not any("no_primary" in r for r in readiness):
            try:
                status, body = call(f"{b.base}/api/health/ready", {})
                readiness.append(f"{status} {body.get('reasons', [])}")
            except OSError:
                pass
            time.sleep(0.1)
        standby.psql("SELECT pg_promote()")
        promoted = time.time()
        say(f"standby promoted {promoted - killed_primary:.1f} s after the primary died")
        time.sleep(6)
        load.stop()
        writes_stopped = time.time()

        # Everything committed reaches every receiver (bounded).
        final = all_events(b.base, admin)
        for receiver in receivers:
            receiver.wait(len(final), 60, distinct=True)
        deadline = time.monotonic() + 30
        while len(reader.sequences) < len(final) and time.monotonic() < deadline:
            time.sleep(0.2)
        reader.stopping.set()
        reader.thread.join(timeout=30)

        # 1. Every acknowledged write is on the new primary.
        missing = [uid for uid in load.created if call(f"{b.base}/scim/v2/Users/{uid}", load.headers)[0] != 200]
        active = {uid: call(f"{b.base}/scim/v2/Users/{uid}", load.headers)[1].get("active") for uid in load.deactivated}
        reactivated = [uid for uid, value in active.items() if value is not False]
        if missing or reactivated:
            failures.append(f"acknowledged writes lost: {len(missing)} users missing, {len(reactivated)} deactivations undone")
        else:
            say(f"ok: all {len(load.created)} acknowledged creations and {len(load.deactivated)} deactivations are on the new primary")

        # 2. Every committed change has exactly one event (no more, no less).
        status, listed = call(f"{b.base}/scim/v2/Users?count=1&filter=" + "userName%20sw%20%22fo-%22", load.headers)
        users_now = listed.get("totalResults", -1)
        status, inactive = call(f"{b.base}/scim/v2/Users?count=1&filter=" + "active%20eq%20false", load.headers)
        inactive_now = inactive.get("totalResults", -1)
        created = [e["resource_id"] for e in final if e["type"] == "user.created"]
        deactivated = [e["resource_id"] for e in final if e["type"] == "user.deactivated"]
        if len(created) != len(set(created)) or len(created) != users_now or len(deactivated) != len(set(deactivated)) \
                or len(deactivated) != inactive_now:
            failures.append(f"events vs changes: {len(created)} user.created ({len(set(created))} distinct) for {users_now} users, "
                            f"{len(deactivated)} user.deactivated ({len(set(deactivated))} distinct) for {inactive_now} inactive users")
        else:
            say(f"ok: {users_now} users committed, {len(created)} user.created events; {inactive_now} inactive, "
                f"{len(deactivated)} user.deactivated events: exactly one event per committed change")

        # 3. The cursor reader saw 1..N once each, in order.
        sequences = [e["sequence"] for e in final]
        if sequences != list(range(1, len(final) + 1)):
            failures.append(f"the feed after failover is not 1..{len(final)} without gaps")
        elif reader.sequences != sequences:
            failures.append(f"the cursor reader, reading across the failover, read {len(reader.sequences)} of {len(sequences)} events, "
                            f"or saw a gap, a repeat or a reordering (errors meanwhile: {reader.errors[:3]})")
        else:
            say(f"ok: the cursor reader read {len(reader.sequences)} events across both failures: 1..{len(reader.sequences)}, "
                "no gap, no repeat")

        # 4. Every subscription got every event, in order; duplicates counted; lag and takeover measured.
        lags: list[float] = []
        phases: dict[str, list[float]] = {"before A's death": [], "between the two failures": [], "after promotion": []}
        takeovers: list[float] = []
        longest_pauses: list[float] = []
        duplicates = 0
        for n, (receiver, subscription) in enumerate(zip(receivers, subscriptions), 1):
            with receiver.lock:
                arrivals = list(receiver.requests)
                times = list(receiver.arrivals)
            payloads = verified(arrivals, subscription["secret"], failures, f"subscription {n}")
            got = [p["data"]["sequence"] for p in payloads]
            unique = list(dict.fromkeys(got))
            duplicates += len(got) - len(unique)
            if unique != sequences or got != sorted(got):
                failures.append(f"subscription {n}: deliveries out of order or incomplete ({len(unique)} of {len(sequences)} events)")
            seen: set[int] = set()
            for payload, at in zip(payloads, times):
                sequence = payload["data"]["sequence"]
                if sequence not in seen:
                    seen.add(sequence)
                    occurred = parse_time(payload["timestamp"])
                    lags.append(at - occurred)
                    phase = "before A's death" if occurred < killed_replica else \
                        "between the two failures" if occurred < killed_primary else "after promotion"
                    phases[phase].append(at - occurred)
            after_kill = [at for at in times if at > killed_replica]
            if after_kill:
                takeovers.append(after_kill[0] - killed_replica)
            after_primary = sorted(at for at in times if at > killed_primary)
            pauses = [later - earlier for earlier, later in zip([killed_primary] + after_primary, after_primary)]
            if pauses and max(pauses) > PAUSE_LIMIT:
                failures.append(f"subscription {n} got nothing for {max(pauses):.1f} s after the primary died, though it had events "
                                f"to get (limit {PAUSE_LIMIT} s)")
            longest_pauses.append(max(pauses, default=0.0))
        drained = [at for receiver in receivers for at in receiver.arrivals if at > writes_stopped]
        if drained:
            say(f"after the writes stopped, {len(drained)} deliveries in {max(drained) - writes_stopped:.1f} s "
                f"({len(drained) / max(0.1, max(drained) - writes_stopped):.0f}/s over 3 subscriptions): the backlog this load left")
        if takeovers and max(takeovers) > TAKEOVER_LIMIT:
            failures.append(f"a dead replica's subscription was taken over after {max(takeovers):.2f} s (limit {TAKEOVER_LIMIT} s)")
        say(f"ok: 3 subscriptions got all {len(sequences)} events each, in order, verified; {duplicates} sent twice (at-least-once)"
            if not any(f.startswith("subscription") for f in failures) else "subscriptions: see failures")
        say(f"replica A SIGKILLed: its subscriptions delivered again by B after {', '.join(f'{t:.2f}' for t in takeovers)} s "
            f"(default lease 30 s)")
        say(f"delivery lag (receipt - event timestamp) over {len(lags)} deliveries: median {statistics.median(lags):.2f} s, "
            f"p99 {percentile(lags, 0.99):.2f} s, max {max(lags):.2f} s")
        say(f"longest pause in each subscription's deliveries after the primary died: "
            f"{', '.join(f'{p:.2f}' for p in longest_pauses)} s (limit {PAUSE_LIMIT} s)")
        for phase, values in phases.items():
            if values:
                say(f"  events {phase}: {len(values)} deliveries, median {statistics.median(values):.2f} s, max {max(values):.2f} s")

        # 5. The time without service, and what clients were told meanwhile.
        with load.lock:
            answers = list(load.answers)
        during = [(sent, done, s, r) for sent, done, s, r in answers if killed_primary <= done <= writes_stopped]
        # The first write sent after the primary died that was acknowledged: when its answer came.
        first_ok = next((done for sent, done, s, _ in sorted(during) if sent >= killed_primary and 200 <= s < 300), None)
        slowest = max((done - sent for sent, done, s, _ in during if 200 <= s < 300), default=0)
        refused = [(s, r) for _, _, s, r in during if s >= 500]
        without_retry = [s for s, r in refused if not r]
        if first_ok is None:
            failures.append("no write succeeded after the failover")
        else:
            say(f"time without service: {first_ok - killed_primary:.2f} s from the primary's death to the first acknowledged write "
                f"sent after it ({first_ok - promoted:.2f} s after promotion); slowest acknowledged write meanwhile {slowest:.2f} s; "
                f"{len(refused)} answers {sorted({s for s, _ in refused})}, {len(refused) - len(without_retry)} with Retry-After")
        if without_retry:
            failures.append(f"{len(without_retry)} 5xx answers during the failover carried no Retry-After")
        if any(500 <= s < 503 or s > 503 for s, _ in refused):
            failures.append(f"answers other than 503 during the failover: {sorted({s for s, _ in refused})}")
        if not any("no_primary" in r for r in readiness):
            failures.append(f"/api/health/ready never said no_primary while there was none: {readiness[:5]}")
        else:
            say("ok: /api/health/ready answered 503 'database: no_primary' while there was no primary")
    except (RuntimeError, OSError, subprocess.TimeoutExpired, KeyError, ValueError) as err:
        failures.append(f"{type(err).__name__}: {err}")
    finally:
        if load:
            load.stopping.set()
        if reader:
            reader.stopping.set()
        for replica in replicas:
            replica.stop()
        for receiver in receivers:
            receiver.stop()
        for server in (primary, standby):
            if server:
                server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def parse_time(text: str) -> float:
    """An RFC 3339 timestamp in seconds since the epoch (Roster and this script share the machine's clock)."""
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", required=True, help="the roster binary")
    parser.add_argument("--port", type=int, default=18090, help="replica A's port; B takes the next")
    args = parser.parse_args()
    failures: list[str] = []
    started = time.monotonic()
    check(args.roster, args.port, failures)
    for failure in failures:
        say(f"FAIL: {failure}")
    say(f"summary: {'passed' if not failures else f'{len(failures)} failures'} in {time.monotonic() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
