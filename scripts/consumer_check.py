"""The reference consumer (examples/consumer/consumer.py) against a live Roster, used by blackbox.py.

check_consumer(): in a new tenant, with a feed:read key bound to it and a subscription to the consumer (through a
proxy that answers 500 to one delivery three times before passing it on), a randomised provisioning run (seeded;
the seed is printed) of users, groups and memberships created, changed and deleted. The consumer is SIGKILLed a
third of the way in and started again at two thirds (it catches up through the pull API, and Roster's retries bring
what it missed). Meanwhile a second mirror is rebuilt from zero under the concurrent writes (`--rebuild --once`) and
later caught up (`--once`). Both mirrors must then equal what Roster's SCIM API shows: every user (userName,
externalId, active), every group (displayName) and every membership.

Then the feed goes back, as after a failover with asynchronous replication: the last users created, their events and
the subscription's position are taken out of the database in one transaction (psql), the tenant's counter set back,
and new users created take those sequence numbers again with other ids. The consumer must notice (a number delivered
again with another id), rebuild, and again equal Roster.

Loopback only; every wait is bounded; only processes started here are stopped, by pid.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from webhook_check import GROUP, PATCH, USER, Scim, call

CONSUMER = Path(__file__).resolve().parent.parent / "examples" / "consumer" / "consumer.py"
OPERATIONS = 240
FAILED_ATTEMPTS = 3  # the chosen delivery is answered 500 this many times before it passes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FlakyProxy:
    """Forwards deliveries to the consumer; the `target`-th distinct delivery is answered 500 FAILED_ATTEMPTS times
    first. While the consumer is down it answers 503, as a real endpoint's load balancer would."""

    def __init__(self, consumer_port: int, target: int) -> None:
        self.consumer = f"http://127.0.0.1:{consumer_port}/webhooks"
        self.target = target
        self.seen: list[str] = []
        self.failed: dict[str, int] = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                webhook_id = self.headers.get("webhook-id", "")
                with proxy.lock:
                    if webhook_id not in proxy.seen:
                        proxy.seen.append(webhook_id)
                    chosen = proxy.seen.index(webhook_id) + 1 == proxy.target
                    if chosen and proxy.failed.get(webhook_id, 0) < FAILED_ATTEMPTS:
                        proxy.failed[webhook_id] = proxy.failed.get(webhook_id, 0) + 1
                        return self.answer(500)
                headers = {k: v for k, v in self.headers.items() if k.lower().startswith("webhook-") or k.lower() == "content-type"}
                request = urllib.request.Request(proxy.consumer, data=body, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        self.answer(response.status)
                except urllib.error.HTTPError as err:
                    self.answer(err.code)
                except OSError:
                    self.answer(503)

            def answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Provisioning:
    """Random SCIM operations an IdP makes, from one seed."""

    def __init__(self, scim: Scim, seed: int) -> None:
        self.scim, self.random = scim, random.Random(seed)
        self.users: list[str] = []
        self.groups: dict[str, set[str]] = {}
        self.n = 0

    def step(self) -> None:
        self.n += 1
        r, users, groups = self.random.random(), self.users, self.groups
        if r < 0.35 or len(users) < 5:
            body = {"schemas": [USER], "userName": f"c-{self.n}", "externalId": f"ext-{self.n}"}
            users.append(self.scim("POST", "/Users", body)["id"])
        elif r < 0.5:
            self.scim.patch(f"/Users/{self.random.choice(users)}", [{"op": "replace", "path": "active", "value": self.random.random() < 0.5}])
        elif r < 0.58:
            self.scim.patch(f"/Users/{self.random.choice(users)}", [{"op": "replace", "path": "externalId", "value": f"ext-{self.n}"}])
        elif r < 0.65:
            gone = users.pop(self.random.randrange(len(users)))
            self.scim("DELETE", f"/Users/{gone}")
            for members in groups.values():
                members.discard(gone)
        elif r < 0.73 or not groups:
            members = set(self.random.sample(users, min(3, len(users))))
            body = {"schemas": [GROUP], "displayName": f"g-{self.n}", "members": [{"value": m} for m in members]}
            groups[self.scim("POST", "/Groups", body)["id"]] = members
        elif r < 0.85:
            group = self.random.choice(list(groups))
            added = set(self.random.sample(users, min(2, len(users)))) - groups[group]
            if added:
                self.scim.patch(f"/Groups/{group}", [{"op": "add", "path": "members", "value": [{"value": m} for m in added]}])
                groups[group] |= added
        elif r < 0.93:
            group = self.random.choice(list(groups))
            if groups[group]:
                gone = self.random.choice(sorted(groups[group]))
                self.scim.patch(f"/Groups/{group}", [{"op": "remove", "path": f'members[value eq "{gone}"]'}])
                groups[group].discard(gone)
        elif r < 0.97:
            group = self.random.choice(list(groups))
            self.scim.patch(f"/Groups/{group}", [{"op": "replace", "path": "displayName", "value": f"g-renamed-{self.n}"}])
        else:
            group = self.random.choice(list(groups))
            self.scim("DELETE", f"/Groups/{group}")
            del groups[group]


def roster_state(scim: Scim) -> tuple[set, set, set]:
    """Users, groups and memberships as Roster's SCIM API shows them."""
    users = set()
    for page in range(1, 1000):
        listed = scim("GET", f"/Users?count=200&startIndex={(page - 1) * 200 + 1}")
        users |= {(u["id"], u["userName"], u.get("externalId"), u.get("active")) for u in listed.get("Resources", [])}
        if page * 200 >= listed["totalResults"]:
            break
    groups, members = set(), set()
    listed = scim("GET", "/Groups?count=1000&excludedAttributes=members")
    for group in listed.get("Resources", []):
        full = scim("GET", f"/Groups/{group['id']}")
        groups.add((full["id"], full["displayName"]))
        members |= {(full["id"], m["value"]) for m in full.get("members", [])}
    return users, groups, members


def mirror_state(path: Path) -> tuple[set, set, set, int]:
    db = sqlite3.connect(path)
    try:
        users = {(i, n, e, None if a is None else bool(a)) for i, n, e, a in db.execute("SELECT id, user_name, external_id, active FROM users")}
        groups = set(db.execute("SELECT id, display_name FROM groups"))
        members = set(db.execute("SELECT group_id, member_id FROM members"))
        position = (db.execute("SELECT sequence FROM position").fetchone() or [0])[0]
        return users, groups, members, position
    finally:
        db.close()


def wait_for_head(origin: str, admin: dict, tenant: str, mirror: Path) -> int:
    """Waits (90 s at most) until the mirror's position reaches the feed's head; answers the head."""
    head = int(call(f"{origin}/api/v1/tenants/{tenant}/events?order=desc&limit=1", admin)[1]["poll_cursor"])
    deadline = time.monotonic() + 90
    while mirror_state(mirror)[3] < head and time.monotonic() < deadline:
        time.sleep(0.2)
    return head


def rewind(origin: str, admin: dict, tenant: str, database_url: str, scim: Scim, mirror: Path, say, failures: list[str]) -> None:
    """What an asynchronous failover does to the feed: the last LOST users, their events and the subscription's position
    gone; the next users numbered with the same sequence numbers."""
    lost = 5
    before = wait_for_head(origin, admin, tenant, mirror)
    gone = [scim("POST", "/Users", {"schemas": [USER], "userName": f"lost-{n}"})["id"] for n in range(lost)]
    if wait_for_head(origin, admin, tenant, mirror) != before + lost or mirror_state(mirror)[3] != before + lost:
        raise RuntimeError(f"the consumer did not apply the {lost} users to be lost")
    def psql(sql: str) -> str:
        done = subprocess.run(["psql", database_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    # The dispatcher records the last delivery after its answer: wait for that, or it would move the position on again.
    deadline = time.monotonic() + 30
    while psql(f"SELECT position FROM webhook_subscriptions WHERE tenant_id = '{tenant}'") != str(before + lost):
        if time.monotonic() > deadline:
            raise RuntimeError("the subscription's position did not reach the head")
        time.sleep(0.2)
    ids = ",".join(f"'{i}'" for i in gone)
    sql = f"""
        BEGIN;
        DELETE FROM events WHERE tenant_id = '{tenant}' AND seq > {before};
        DELETE FROM users WHERE tenant_id = '{tenant}' AND id IN ({ids});
        UPDATE event_sequences SET last_seq = {before} WHERE tenant_id = '{tenant}';
        DELETE FROM event_days WHERE tenant_id = '{tenant}' AND first_seq > {before};
        UPDATE event_days SET last_seq = {before} WHERE tenant_id = '{tenant}' AND last_seq > {before};
        UPDATE webhook_subscriptions SET position = least(position, {before}) WHERE tenant_id = '{tenant}';
        COMMIT;"""
    psql(sql)
    for n in range(lost + 2):
        scim("POST", "/Users", {"schemas": [USER], "userName": f"after-{n}"})
    head = wait_for_head(origin, admin, tenant, mirror)
    users, groups, members, position = mirror_state(mirror)
    expected = roster_state(scim)
    if (users, groups, members) != expected or position != head or any(u[0] in gone for u in users):
        failures.append(f"consumer: after the feed went back, the mirror differs from Roster: position {position} of {head}; "
                        f"users {len(users ^ expected[0])} differ, groups {len(groups ^ expected[1])}, "
                        f"memberships {len(members ^ expected[2])}")
    else:
        say(f"ok: consumer: the feed went back {lost} events (their numbers given again to other events); the consumer "
            f"noticed, rebuilt, and equals Roster at position {position}")


def check_consumer(origin: str, admin_key: str, database_url: str, say, failures: list[str]) -> None:
    admin = {"X-Admin-API-Key": admin_key, "Content-Type": "application/json"}
    folder = Path(tempfile.mkdtemp(prefix="roster-consumer-"))
    processes: list[subprocess.Popen] = []
    proxy = None
    seed = int(os.environ.get("ROSTER_CONSUMER_SEED", secrets.randbelow(1_000_000)))
    config = call(f"{origin}/api/v1/config", admin)[1]
    try:
        status, tenant = call(f"{origin}/api/v1/tenants", admin, {"name": f"consumer-{secrets.token_hex(4)}"}, "POST")
        if status != 201:
            raise RuntimeError(f"creating a tenant answered {status}: {tenant}")
        status, token = call(f"{origin}/api/v1/tenants/{tenant['id']}/scim/tokens", admin, {"name": "consumer check"}, "POST")
        status, key = call(f"{origin}/api/v1/admin-keys", admin, {"name": "consumer", "scopes": ["feed:read"], "tenant": tenant["id"]}, "POST")
        if status != 201:
            raise RuntimeError(f"creating the feed:read key answered {status}: {key}")
        # Retries a second apart, so the 500s and the consumer's downtime cost seconds, not the default minutes.
        status, _ = call(f"{origin}/api/v1/config", {**admin, "If-Match": f'"{config["version"]}"'},
                         {"webhook_retry_schedule": [0] + [1] * 40}, "PUT")
        if status != 200:
            raise RuntimeError(f"setting a short retry schedule answered {status}")
        consumer_port = free_port()
        proxy = FlakyProxy(consumer_port, target=20)
        status, subscription = call(f"{origin}/api/v1/tenants/{tenant['id']}/webhooks", admin, {"url": proxy.url}, "POST")
        if status != 201:
            raise RuntimeError(f"creating the subscription answered {status}: {subscription}")
        env = dict(os.environ, ROSTER_FEED_KEY=key["key"], ROSTER_SCIM_TOKEN=token["token"], ROSTER_WEBHOOK_SECRET=subscription["secret"])

        def consumer(mirror: Path, *flags: str, port: int = consumer_port) -> subprocess.Popen:
            proc = subprocess.Popen([sys.executable, str(CONSUMER), "--roster", origin, "--tenant", tenant["id"], "--mirror", str(mirror),
                                     "--port", str(port), *flags], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            processes.append(proc)
            return proc

        def wait_listening(proc: subprocess.Popen) -> None:
            line = proc.stdout.readline()  # "consumer: mirror at position …" once it serves
            if "webhooks on" not in line:
                raise RuntimeError(f"the consumer did not start: {line}{proc.stdout.read() if proc.poll() is not None else ''}")
            threading.Thread(target=lambda: [print(f"[consumer] {x.rstrip()}", flush=True) for x in proc.stdout], daemon=True).start()

        mirror, rebuilt = folder / "mirror.sqlite", folder / "rebuilt.sqlite"
        first = consumer(mirror)
        wait_listening(first)
        scim = Scim(f"{origin}/scim/v2", token["token"])
        run = Provisioning(scim, seed)
        rebuild: subprocess.Popen | None = None
        for n in range(OPERATIONS):
            run.step()
            if n == OPERATIONS // 3:
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
                # A rebuild from zero while the writes go on: head position, SCIM read, then the events after it.
                rebuild = consumer(rebuilt, "--rebuild", "--once", port=free_port())
            if n == 2 * OPERATIONS // 3:
                wait_listening(consumer(mirror))
        if rebuild is None or rebuild.wait(timeout=120) != 0:
            raise RuntimeError("the rebuild under concurrent writes failed")
        if subprocess.run([sys.executable, str(CONSUMER), "--roster", origin, "--tenant", tenant["id"], "--mirror", str(rebuilt),
                           "--port", "0", "--once"], env=env, timeout=120, capture_output=True).returncode != 0:
            raise RuntimeError("catching the rebuilt mirror up failed")

        expected = roster_state(scim)
        head = wait_for_head(origin, admin, tenant["id"], mirror)
        for name, path in (("the consumer's mirror", mirror), ("the mirror rebuilt under writes", rebuilt)):
            users, groups, members, position = mirror_state(path)
            if (users, groups, members) != expected or position != int(head):
                failures.append(f"consumer: {name} differs from Roster (seed {seed}): position {position} of {head}; "
                                f"users {len(users ^ expected[0])} differ, groups {len(groups ^ expected[1])}, "
                                f"memberships {len(members ^ expected[2])}; e.g. {sorted(users - expected[0])[:2]} against "
                                f"{sorted(expected[0] - users)[:2]}")
            else:
                say(f"ok: consumer: {name} equals Roster after {OPERATIONS} random operations (seed {seed}): {len(users)} users, "
                    f"{len(groups)} groups, {len(members)} memberships, position {position}")
        rewind(origin, admin, tenant["id"], database_url, scim, mirror, say, failures)
        retried = [attempts for attempts in proxy.failed.values() if attempts == FAILED_ATTEMPTS]
        if not retried:
            failures.append(f"consumer: the delivery answered 500 was not retried {FAILED_ATTEMPTS} times ({proxy.failed})")
        else:
            say(f"ok: consumer: one delivery answered 500 {FAILED_ATTEMPTS} times was retried and applied; the consumer was "
                "SIGKILLed mid-run and caught up on restart")
    except (RuntimeError, OSError, subprocess.TimeoutExpired, KeyError, ValueError) as err:
        failures.append(f"consumer: {type(err).__name__}: {err} (seed {seed})")
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        if proxy:
            proxy.stop()
        now = call(f"{origin}/api/v1/config", admin)[1]
        call(f"{origin}/api/v1/config", {**admin, "If-Match": f'"{now["version"]}"'},
             {k: config[k] for k in config.get("overridden", [])}, "PUT")
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
