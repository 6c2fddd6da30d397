"""Black-box webhook checks, used by blackbox.py: every delivery verified with the Python
`standardwebhooks` package (the reference implementation), in order, without duplicates.

check_webhooks(): against `roster dev`: every event type, secret rotation (both secrets verify),
replay.
check_replicas(): two `roster serve` on one new database: the one delivering is killed with
SIGKILL mid-delivery and the other carries on (nothing lost, order kept, at most the in-flight
event twice); then the receiver is down for a while and catches up in order.

Loopback only; every wait is bounded; only processes started here are stopped, by their pid.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Receiver:
    """Records every request as (headers, body), and when it arrived (`arrivals`, wall clock); answers 204 after `delay`
    seconds, or what `answer(n)` says for the n-th request (0-based): (status, JSON body or None).
    `stop()` then `start()` again on the same port simulates a receiver that is down for a while."""

    def __init__(self, delay: float = 0.0, answer=None) -> None:
        self.delay = delay
        self.answer = answer or (lambda n: (204, None))
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrivals: list[float] = []
        self.lock = threading.Lock()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                arrived = time.time()
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    receiver.arrivals.append(arrived)
                    status, reply = receiver.answer(len(receiver.requests) - 1)
                data = json.dumps(reply).encode() if reply is not None else b""
                self.send_response(status)
                if data:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def wait(self, count: int, timeout: float, distinct: bool = False) -> list[tuple[dict[str, str], bytes]]:
        """Waits for `count` requests (`distinct`: `count` different webhook-ids) or the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                seen = len({h.get("webhook-id") for h, _ in self.requests}) if distinct else len(self.requests)
            if seen >= count:
                break
            time.sleep(0.05)
        with self.lock:
            return list(self.requests)


def call(url: str, headers: dict, body: dict | None = None, method: str = "GET") -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as err:
        text = err.read()
        return err.code, json.loads(text) if text else {}


def verified(requests: list[tuple[dict[str, str], bytes]], secret: str, failures: list[str], what: str) -> list[dict]:
    """Each request verified with standardwebhooks; returns the payloads."""
    from standardwebhooks import Webhook

    hook = Webhook(secret)
    payloads = []
    for headers, body in requests:
        try:
            payloads.append(hook.verify(body, headers))
        except Exception as err:  # the library's verification error, or a malformed request
            failures.append(f"{what}: a delivery did not verify with standardwebhooks ({type(err).__name__}: {err})")
            return []
    return payloads


class Scim:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}

    def __call__(self, method: str, path: str, body: dict | None = None) -> dict:
        status, reply = call(self.base + path, self.headers, body, method)
        if status >= 300:
            raise RuntimeError(f"SCIM {method} {path} answered {status}: {reply}")
        return reply

    def user(self, name: str) -> str:
        return self("POST", "/Users", {"schemas": [USER], "userName": name})["id"]

    def patch(self, path: str, operations: list[dict]) -> None:
        self("PATCH", path, {"schemas": [PATCH], "Operations": operations})


def check_webhooks(origin: str, admin_key: str, scim_base: str, token: str, say, failures: list[str]) -> None:
    """Every event type reaches a standardwebhooks receiver, verified and in order; rotation; replay."""
    admin = {"X-Admin-API-Key": admin_key, "Content-Type": "application/json"}
    receiver = Receiver()
    receiver.start()
    try:
        status, created = call(f"{origin}/api/v1/webhooks", admin, {"url": receiver.url, "description": "blackbox"}, "POST")
        if status != 201:
            failures.append(f"webhooks: creating a subscription answered {status}: {created}")
            return
        subscription, secret = created["id"], created["secret"]
        scim = Scim(scim_base, token)
        suffix = secrets.token_hex(4)
        alice, bob = scim.user(f"hook-alice-{suffix}"), scim.user(f"hook-bob-{suffix}")
        scim.patch(f"/Users/{alice}", [{"op": "replace", "path": "displayName", "value": "Alice"}])
        scim.patch(f"/Users/{alice}", [{"op": "replace", "path": "active", "value": False}])
        scim.patch(f"/Users/{alice}", [{"op": "replace", "path": "active", "value": True}])
        group = scim("POST", "/Groups", {"schemas": [GROUP], "displayName": f"hook-team-{suffix}", "members": [{"value": alice}]})["id"]
        scim.patch(f"/Groups/{group}", [{"op": "add", "path": "members", "value": [{"value": bob}]},
                                        {"op": "replace", "path": "displayName", "value": f"hook-team-a-{suffix}"}])
        scim.patch(f"/Groups/{group}", [{"op": "remove", "path": f'members[value eq "{alice}"]'}])
        scim("DELETE", f"/Users/{bob}")
        scim("DELETE", f"/Groups/{group}")
        expected = ["user.created", "user.created", "user.updated", "user.deactivated", "user.reactivated",
                    "group.created", "group.members.added", "group.updated", "group.members.added",
                    "group.members.removed", "user.deleted", "group.members.removed", "group.deleted"]
        payloads = verified(receiver.wait(len(expected), 30), secret, failures, "webhooks")
        if not payloads:
            failures.append("webhooks: no delivery arrived within 30 s") if not receiver.requests else None
            return
        types = [p["type"] for p in payloads]
        sequences = [p["data"]["sequence"] for p in payloads]
        ids = [h["webhook-id"] for h, _ in receiver.requests]
        if types != expected:
            failures.append(f"webhooks: received types {types}, expected {expected}")
        elif sequences != sorted(sequences) or len(set(ids)) != len(ids):
            failures.append(f"webhooks: deliveries out of order or duplicated: {sequences}")
        else:
            say(f"ok: webhooks: {len(payloads)} deliveries covering all 10 event types, each verified by standardwebhooks, in order")

        # Rotation: the next delivery verifies with the new secret and with the old one.
        status, rotated = call(f"{origin}/api/v1/webhooks/{subscription}/rotate-secret", admin, {}, "POST")
        if status != 200:
            failures.append(f"webhooks: rotate-secret answered {status}: {rotated}")
            return
        scim.user(f"hook-carol-{suffix}")
        last = receiver.wait(len(expected) + 1, 30)[len(expected):]
        if len(last) != 1 or not verified(last, rotated["secret"], failures, "rotation (new secret)") \
                or not verified(last, secret, failures, "rotation (old secret)"):
            failures.append("webhooks: after a rotation the delivery did not verify with both secrets") if len(last) != 1 else None
        else:
            say("ok: webhooks: during a rotation a delivery verifies with the new secret and with the old one")

        # Replay from the first event: the whole sequence again, in order.
        first = payloads[0]["data"]["id"]
        status, replayed = call(f"{origin}/api/v1/webhooks/{subscription}/replay", admin, {"event_id": first}, "POST")
        if status not in (200, 202):
            failures.append(f"webhooks: replay answered {status}: {replayed}")
            return
        again = receiver.wait(2 * (len(expected) + 1), 30)[len(expected) + 1:]
        again_sequences = [p["data"]["sequence"] for p in verified(again, rotated["secret"], failures, "replay")]
        if again_sequences != sequences + [sequences[-1] + 1]:
            failures.append(f"webhooks: replay sent {again_sequences}, expected {sequences + [sequences[-1] + 1]}")
        else:
            say("ok: webhooks: replay from the first event sent every event again, in order")
        call(f"{origin}/api/v1/webhooks/{subscription}", admin, None, "DELETE")
    finally:
        receiver.stop()


def check_replicas(roster: str, database_url: str, port: int, say, failures: list[str], echo) -> None:
    """Two `roster serve` on one database; the delivering one is SIGKILLed; then the receiver is down a while."""
    import shutil

    psql = shutil.which("psql")
    created = subprocess.run([psql, database_url, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE webhook_check"],
                             capture_output=True, text=True, timeout=60)
    if created.returncode != 0:
        failures.append(f"replicas: could not create the webhook_check database: {created.stderr.strip()}")
        return
    parts = urllib.parse.urlsplit(database_url)
    url = urllib.parse.urlunsplit(parts._replace(path="/webhook_check"))
    key = "radm_" + secrets.token_urlsafe(32)
    # Both replicas seal and open secrets with the same key, as replicas of one deployment must.
    secret_key = "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    receiver = Receiver(delay=0.1)
    receiver.start()
    processes: list[subprocess.Popen] = []

    def serve(offset: int) -> tuple[subprocess.Popen, str]:
        env = dict(os.environ, ROSTER_DATABASE_URL=url, ROSTER_ADMIN_KEY=key, ROSTER_SECRET_KEY=secret_key, ROSTER_HOST="127.0.0.1",
                   ROSTER_PORT=str(port + offset), ROSTER_LOG_LEVEL="warning", ROSTER_WEBHOOK_ALLOW_PRIVATE_URLS="true",
                   ROSTER_WEBHOOK_LEASE_SECONDS="5", ROSTER_WEBHOOK_TIMEOUT_SECONDS="4", ROSTER_WEBHOOK_POLL_MS="200",
                   ROSTER_WEBHOOK_RETRY_SCHEDULE="0,0.5,0.5,0.5,0.5,1,1,1,1,1,1,1,1")
        proc = subprocess.Popen([roster, "serve"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(proc)
        threading.Thread(target=echo, args=(proc.stdout, f"[replica {offset}] ", None), daemon=True).start()
        base = f"http://127.0.0.1:{port + offset}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if call(f"{base}/api/health/ready", {})[0] == 200:
                    return proc, base
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"replica {offset} did not become ready")

    try:
        first, base = serve(0)
        admin = {"X-Admin-API-Key": key, "Content-Type": "application/json"}
        status, token = call(f"{base}/api/v1/scim/tokens", admin, {"name": "replicas"}, "POST")
        status, subscription = call(f"{base}/api/v1/webhooks", admin, {"url": receiver.url}, "POST")
        if status != 201:
            failures.append(f"replicas: creating a subscription answered {status}: {subscription}")
            return
        scim = Scim(base + "/scim/v2", token["token"])
        for i in range(40):
            scim.user(f"replica-{i}")
        receiver.wait(5, 30)
        second, second_base = serve(1)
        os.kill(first.pid, signal.SIGKILL)  # mid-delivery: the receiver takes 100 ms per event
        first.wait(timeout=10)
        received = receiver.wait(40, 60, distinct=True)
        payloads = verified(received, subscription["secret"], failures, "replicas")
        sequences = [p["data"]["sequence"] for p in payloads]
        unique = list(dict.fromkeys(sequences))
        duplicates = len(sequences) - len(unique)
        if unique != list(range(1, 41)) or duplicates > 1 or sequences != sorted(sequences):
            failures.append(f"replicas: after SIGKILL the deliveries were {sequences} (expected 1..40 in order, at most one twice)")
        else:
            say(f"ok: replicas: the delivering replica was SIGKILLed mid-delivery; the other delivered the rest "
                f"(40 events, in order, {duplicates} sent twice)")

        # The receiver is down a while, then comes back: everything arrives, in order.
        receiver.stop()
        scim = Scim(second_base + "/scim/v2", token["token"])
        for i in range(40, 50):
            scim.user(f"replica-{i}")
        time.sleep(2)
        receiver.start()
        received = receiver.wait(50, 60, distinct=True)
        tail = [p["data"]["sequence"] for p in verified(received, subscription["secret"], failures, "catch-up")][len(sequences):]
        if list(dict.fromkeys(tail)) != list(range(41, 51)) or tail != sorted(tail):
            failures.append(f"replicas: after the receiver came back it got {tail}, expected 41..50 in order")
        else:
            say("ok: replicas: a receiver down for 2 s caught up in order once it was back")
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as err:
        failures.append(f"replicas: {err}")
    finally:
        receiver.stop()
        for proc in processes:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
