#!/usr/bin/env python3
"""Roster behind Debian's PgBouncer (1.18), in session mode and in transaction mode.

Usage: python3 scripts/pooler_check.py --roster .build/debug/roster

1. Starts a throwaway PostgreSQL (bench_peer.Cluster) and one `pgbouncer` in front of it on loopback, with two
   databases: `pool_session` (pool_mode=session, pool_size 8: the two replicas' sessions) and `pool_transaction`
   (pool_mode=transaction, pool_size 2, so the replicas' six pooled connections share two server sessions); the
   role's statement_timeout in `pool_transaction` is Roster's, as docs/operators/pgbouncer.md asks.
2. In each mode, two `roster serve` through PgBouncer (the first migrates; transaction mode adds
   ROSTER_DATABASE_SESSION_URL, straight to PostgreSQL, for LISTEN and the dispatcher's session lock): a SCIM token, users and a group created and
   patched on the first, read, listed and filtered on both (the hot statements, prepared in session mode); the statement limit in
   force (a PATCH on a row PostgreSQL has locked answers 429 within seconds); the webhooks of those writes delivered
   in order, verified by standardwebhooks; an event written on the second replica (no dispatcher) and numbered by
   its feed read reaches the receiver through the first one's LISTEN (the poll is 10 minutes); the token revoked on
   the first is refused at once on the second; /api/health/ready; both stop cleanly on SIGTERM.
3. Misconfigurations refused at start with what to set: no ROSTER_DATABASE_POOL_MODE behind PgBouncer,
   session mode on a transaction pool, transaction mode with another role statement_timeout or without a session URL.

Loopback only; every wait is bounded; only processes started here are stopped, by pid (or their own group).
Exits 0 when everything passed, 1 otherwise, with one line per failure.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_peer import Cluster, free_port, stop  # noqa: E402
from devserver import wait_ready  # noqa: E402
from webhook_check import GROUP, Receiver, Scim, call, verified  # noqa: E402

STATEMENT_MS = 1500
PASSWORD = "pooler-" + secrets.token_hex(8)
WATCHDOG = 600


def say(text: str) -> None:
    print(f"pooler: {text}", flush=True)


class Bouncer:
    """Debian's pgbouncer on 127.0.0.1 in front of `cluster`, one session and one transaction pool. Use with `with`."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.folder = Path(tempfile.mkdtemp(prefix="roster-pgbouncer-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        # pgbouncer refuses to run as root; --pdeathsig stops it should this script die without cleaning up.
        self.prefix = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups",
                       "--pdeathsig", "TERM", "--"] if os.geteuid() == 0 else []

    def __enter__(self) -> "Bouncer":
        server = f"host=127.0.0.1 port={self.cluster.port}"
        (self.folder / "userlist.txt").write_text(f'"roster" "{PASSWORD}"\n')
        (self.folder / "pgbouncer.ini").write_text(f"""[databases]
pool_session = {server} dbname=pool_session pool_mode=session pool_size=8
pool_transaction = {server} dbname=pool_transaction pool_mode=transaction pool_size=2

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {self.folder}/userlist.txt
admin_users = roster
max_client_conn = 100
query_wait_timeout = 15
logfile = {self.folder}/pgbouncer.log
""")
        if self.prefix:
            shutil.chown(self.folder, "postgres", "postgres")
            for path in self.folder.iterdir():
                shutil.chown(path, "postgres", "postgres")
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        self.proc = subprocess.Popen([*self.prefix, binary, str(self.folder / "pgbouncer.ini")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while self.admin("SHOW VERSION") is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("pgbouncer did not start:\n" + self.log()[-2000:])
            time.sleep(0.1)
        return self

    def __exit__(self, *_: object) -> None:
        if self.proc is not None:
            stop(self.proc, first=signal.SIGTERM, timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def admin(self, command: str) -> list[dict[str, str]] | None:
        """A command on PgBouncer's console, as rows; None when it does not answer."""
        result = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "roster", "-d", "pgbouncer",
                                 "-A", "-F", "\t", "-c", command], env=dict(os.environ, PGPASSWORD=PASSWORD),
                                capture_output=True, text=True, timeout=10)
        if result.returncode != 0:
            return None
        lines = [line for line in result.stdout.splitlines() if line and not line.startswith("(")]
        header = lines[0].split("\t") if lines else []
        return [dict(zip(header, line.split("\t"))) for line in lines[1:]]

    def pool(self, database: str) -> tuple[int, int]:
        """(client connections, server sessions) of `database`'s pool now."""
        row = next((row for row in self.admin("SHOW POOLS") or [] if row.get("database") == database), {})

        def count(*keys: str) -> int:
            return sum(int(row.get(key) or 0) for key in keys)

        return count("cl_active", "cl_waiting"), count("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")

    def url(self, database: str) -> str:
        return f"postgres://roster:{PASSWORD}@127.0.0.1:{self.port}/{database}?sslmode=disable"


class Replica:
    """One `roster serve`, its output in a file of `folder`."""

    def __init__(self, roster: str, env: dict[str, str], folder: Path, name: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logfile = folder / f"{name}.log"
        self.name = name
        self.proc = subprocess.Popen([roster, "serve"], env={**env, "ROSTER_PORT": str(self.port)}, stdin=subprocess.DEVNULL,
                                     stdout=open(self.logfile, "w"), stderr=subprocess.STDOUT, start_new_session=True)

    def ready(self) -> "Replica":
        try:
            wait_ready(self.port, self.proc, timeout=90)
        except RuntimeError as err:
            raise RuntimeError(f"{self.name}: {err} (exit {self.proc.poll()}):\n{self.log()[-2000:]}") from None
        return self

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")

    def stop(self) -> int | None:
        """SIGTERM, the exit code within 30 s (None: it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop(self.proc, first=signal.SIGKILL, timeout=10)
                return None
        return self.proc.returncode


class Run:
    """What one check shares: the cluster, PgBouncer, the roster binary and the environment every replica gets."""

    def __init__(self, roster: str, cluster: Cluster, bouncer: Bouncer, folder: Path) -> None:
        self.roster, self.cluster, self.bouncer, self.folder = roster, cluster, bouncer, folder
        self.failures: list[str] = []
        self.admin_key = "radm_" + secrets.token_urlsafe(32)
        self.env = dict(os.environ, ROSTER_ADMIN_KEY=self.admin_key, ROSTER_HOST="127.0.0.1", ROSTER_LOG_LEVEL="notice",
                        ROSTER_SECRET_KEY="k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
                        ROSTER_SCIM_STATEMENT_TIMEOUT_MS=str(STATEMENT_MS), ROSTER_DATABASE_MAX_CONNECTIONS="3",
                        ROSTER_WEBHOOK_ALLOW_PRIVATE_URLS="true", ROSTER_WEBHOOK_POLL_MS="600000")
        self.admin = {"X-Admin-API-Key": self.admin_key, "Content-Type": "application/json"}
        # PostgreSQL itself, for transaction mode's LISTEN and session lock.
        self.session_url = f"postgres://roster:{PASSWORD}@127.0.0.1:{cluster.port}/pool_transaction?sslmode=disable"

    def replica(self, name: str, **env: str) -> Replica:
        return Replica(self.roster, {**self.env, **env}, self.folder, name)

    def expect(self, ok: bool, label: str, detail: str = "") -> bool:
        if ok:
            say(f"ok: {label}")
        else:
            self.failures.append(f"{label}{': ' + detail if detail else ''}")
        return ok


def locked_patch(run: Run, database: str, scim: Scim, user: str) -> tuple[int, float]:
    """PATCHes `user` while PostgreSQL holds its row locked for 5 s: (status, seconds taken)."""
    holder = subprocess.Popen(
        ["psql", "-h", "127.0.0.1", "-p", str(run.cluster.port), "-U", "postgres", "-d", database, "-qc",
         f"BEGIN; SELECT 1 FROM users WHERE id = '{user}' FOR UPDATE; SELECT pg_sleep(5); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while run.cluster.psql(database, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%' "
                                         "AND pid <> pg_backend_pid()") == "0" and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        status, _ = call(f"{scim.base}/Users/{user}", scim.headers, {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Locked"}]}, "PATCH")
        return status, time.monotonic() - started
    finally:
        holder.wait(timeout=15)


def check_mode(run: Run, mode: str, **extra: str) -> None:
    """Two replicas through the `pool_<mode>` database: the whole sequence of the module docstring, point 2."""
    database = f"pool_{mode}"
    url = run.bouncer.url(database)
    first = run.replica(f"{mode}-a", ROSTER_DATABASE_URL=url, ROSTER_DATABASE_POOL_MODE=mode, **extra).ready()
    second = run.replica(f"{mode}-b", ROSTER_DATABASE_URL=url, ROSTER_DATABASE_POOL_MODE=mode, ROSTER_WEBHOOKS="false",
                         **extra).ready()
    receiver = Receiver()
    receiver.start()
    try:
        run.expect(True, f"{mode}: two roster serve started through PgBouncer (migrations included) and are ready")
        status, token = call(f"{first.base}/api/v1/scim/tokens", run.admin, {"name": mode}, "POST")
        status, subscription = call(f"{first.base}/api/v1/webhooks", run.admin, {"url": receiver.url}, "POST")
        a, b = Scim(f"{first.base}/scim/v2", token["token"]), Scim(f"{second.base}/scim/v2", token["token"])
        users = [a("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"{mode}-{i}",
                                      "externalId": f"ext-{mode}-{i}"})["id"] for i in range(3)]
        group = a("POST", "/Groups", {"schemas": [GROUP], "displayName": f"{mode}-team", "members": [{"value": users[0]}]})["id"]
        a.patch(f"/Groups/{group}", [{"op": "add", "path": "members", "value": [{"value": users[1]}]}])
        a.patch(f"/Users/{users[0]}", [{"op": "replace", "path": "displayName", "value": "First"}])
        # The hot statements, many times on both replicas: six pooled connections over the pool's server sessions.
        reads = []
        def found(scim: Scim, path: str, expression: str) -> int:
            return scim("GET", f"{path}?filter={urllib.parse.quote(expression)}")["totalResults"]

        for scim in (a, b) * 4:
            reads.append(scim("GET", f"/Users/{users[0]}")["displayName"] == "First")
            reads.append(found(scim, "/Users", f'userName eq "{mode}-1"') == 1)
            reads.append(found(scim, "/Users", f'externalId eq "ext-{mode}-2"') == 1)
            reads.append(found(scim, "/Groups", f'displayName eq "{mode}-team"') == 1)
            reads.append(scim("GET", "/Users?count=2")["totalResults"] == 3)
        group_members = {m["value"] for m in b("GET", f"/Groups/{group}")["members"]}
        run.expect(all(reads) and group_members == set(users[:2]),
                   f"{mode}: users and a group created and patched; {len(reads)} reads, lists and eq filters on both replicas answered right")
        clients, servers = run.bouncer.pool(database)
        if mode == "transaction":
            run.expect(clients > servers, f"{mode}: the replicas' {clients} client connections shared {servers} server sessions",
                       "no sharing: the check would not catch what transaction pooling breaks")

        status, seconds = locked_patch(run, database, a, users[2])
        run.expect(status == 429 and seconds < 4.5, f"{mode}: the statement limit is in force through PgBouncer "
                   f"(a PATCH on a locked row: {status} after {seconds:.1f} s; limit {STATEMENT_MS} ms)",
                   f"expected 429 within 4.5 s")

        expected = ["user.created"] * 3 + ["group.created", "group.members.added", "group.members.added", "user.updated"]
        payloads = verified(receiver.wait(len(expected), 30), subscription["secret"], run.failures, f"{mode} webhooks")
        types = [p["type"] for p in payloads]
        sequences = [p["data"]["sequence"] for p in payloads]
        run.expect(types == expected and sequences == sorted(set(sequences)),
                   f"{mode}: {len(payloads)} webhooks delivered in order, each verified by standardwebhooks",
                   f"types {types}, sequences {sequences}")

        # Written on the replica without a dispatcher and numbered by its feed read: only a NOTIFY wakes the other.
        b.user(f"{mode}-listen")
        call(f"{second.base}/api/v1/events", run.admin)
        late = verified(receiver.wait(len(expected) + 1, 20), subscription["secret"], run.failures, f"{mode} LISTEN")[len(expected):]
        run.expect([p["type"] for p in late] == ["user.created"],
                   f"{mode}: an event numbered on the other replica was delivered at once (the dispatcher's LISTEN; the poll is 10 min)",
                   f"received {[p['type'] for p in late]} within 20 s")
        listening = run.cluster.psql(database, "SELECT count(*) FILTER (WHERE query LIKE 'LISTEN%roster_scim_token_revoked%'), "
                                               "count(*) FILTER (WHERE query LIKE 'LISTEN%roster_events%') FROM pg_stat_activity "
                                               "WHERE datname = current_database()")
        run.expect(listening == "2|1", f"{mode}: PostgreSQL holds the LISTEN sessions (token cache: both replicas; events: the dispatcher's)",
                   f"token cache, events: {listening}")

        status, _ = call(f"{first.base}/api/v1/scim/tokens/{token['id']}", run.admin, None, "DELETE")
        refused = call(f"{second.base}/scim/v2/Users/{users[0]}", {"Authorization": f"Bearer {token['token']}"})[0]
        run.expect(status == 200 and refused == 401, f"{mode}: a token revoked on one replica is refused at once on the other",
                   f"revoke {status}, then {refused}")
        ready = [call(f"{r.base}/api/health/ready", {})[0] for r in (first, second)]
        run.expect(ready == [200, 200], f"{mode}: /api/health/ready answers 200 on both", f"{ready}")
    except (RuntimeError, OSError, KeyError, TypeError) as err:
        run.failures.append(f"{mode}: {type(err).__name__}: {err}")
    finally:
        receiver.stop()
        codes = [first.stop(), second.stop()]
        if not run.expect(codes == [0, 0], f"{mode}: both replicas stopped cleanly on SIGTERM", f"exit codes {codes}"):
            for replica in (first, second):
                say(f"{replica.name} log, last lines:\n{replica.log()[-3000:]}")


def check_refusals(run: Run) -> None:
    """Each misconfiguration: `roster serve` exits non-zero before it listens, with the fix in its message."""
    cases = [
        ("no ROSTER_DATABASE_POOL_MODE behind PgBouncer", "pool_session", {},
         "unsupported startup parameter: statement_timeout"),
        ("ROSTER_DATABASE_POOL_MODE=session on a transaction pool", "pool_transaction", {"ROSTER_DATABASE_POOL_MODE": "session"},
         "Set ROSTER_DATABASE_POOL_MODE=transaction"),
        ("transaction mode with another role statement_timeout", "pool_transaction",
         {"ROSTER_DATABASE_POOL_MODE": "transaction", "ROSTER_DATABASE_SESSION_URL": run.session_url,
          "ROSTER_SCIM_STATEMENT_TIMEOUT_MS": "2500"}, "SET statement_timeout = 2500"),
        ("transaction mode without a session URL", "pool_transaction", {"ROSTER_DATABASE_POOL_MODE": "transaction"},
         "needs ROSTER_DATABASE_SESSION_URL"),
    ]
    for label, database, env, wanted in cases:
        replica = run.replica(f"refused-{database}", ROSTER_DATABASE_URL=run.bouncer.url(database), **env)
        try:
            code = replica.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        replica.stop()
        line = next((line for line in replica.log().splitlines() if wanted in line), "")
        run.expect(code not in (0, None) and line.startswith("Error: "), f"refused at start ({code}): {label}: {line[:220]}…",
                   f"exit {code}, output {replica.log()[-600:]!r}")


def prepare(cluster: Cluster) -> None:
    """The role PgBouncer logs in as, its two databases, and transaction mode's statement limit on the role."""
    cluster.psql("postgres", f"CREATE ROLE roster LOGIN PASSWORD '{PASSWORD}'",
                 "CREATE DATABASE pool_session OWNER roster", "CREATE DATABASE pool_transaction OWNER roster",
                 f"ALTER ROLE roster IN DATABASE pool_transaction SET statement_timeout = {STATEMENT_MS}")


def on_signal(signum, _frame):
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", required=True, help="path to the roster executable")
    args = parser.parse_args()
    roster = str(Path(args.roster).resolve())
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(WATCHDOG)
    started = time.monotonic()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="roster-pooler-") as folder:
        try:
            with Cluster() as cluster:
                prepare(cluster)
                with Bouncer(cluster) as bouncer:
                    version = subprocess.run([shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", "--version"],
                                             capture_output=True, text=True).stdout.splitlines()[0]
                    say(f"{version} on port {bouncer.port}, PostgreSQL on {cluster.port}")
                    run = Run(roster, cluster, bouncer, Path(folder))
                    failures = run.failures
                    check_mode(run, "session")
                    check_mode(run, "transaction", ROSTER_DATABASE_SESSION_URL=run.session_url)
                    check_refusals(run)
        except (RuntimeError, OSError, subprocess.SubprocessError, KeyboardInterrupt) as err:
            failures.append(f"{type(err).__name__}: {err}")
        finally:
            signal.alarm(0)
    for failure in failures:
        say(f"FAIL: {failure}")
    say(f"{'FAILED' if failures else 'OK'} in {time.monotonic() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
