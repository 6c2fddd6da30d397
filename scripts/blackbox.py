#!/usr/bin/env python3
"""Black-box check of a live `roster dev`.

Usage: python3 scripts/blackbox.py --roster .build/debug/roster [--port 18080]

1. starts `roster dev --port PORT` and reads its banner (SCIM base URL, SCIM
   token, admin API key, PostgreSQL pid and data directory, two curl lines);
2. runs each printed curl line verbatim with `bash -c` and checks its JSON;
3. checks that each credential only opens its own API (401 with a JSON body);
4. runs scim2-tester's check_server() against the SCIM base URL, then a Bulk job
   built with scim2-models whose response must validate as a BulkResponse;
4a. runs the bad-input suite (scripts/badinput_check.py): over 2 000 seeded bad requests,
   each must get its 4xx SCIM error and leave nothing written;
5. drives the CLI (tenant, token, admin-key, webhook, migrate) against the printed
   database URL and checks what it creates works over HTTP, and revocation too;
5a. webhooks (scripts/webhook_check.py): every event type delivered to a receiver that verifies
   each request with the `standardwebhooks` package, in order; secret rotation; replay; the reference
   consumer (examples/consumer, scripts/consumer_check.py) mirrors a tenant through a randomised run with
   itself SIGKILLed and restarted and one delivery answered 500, and rebuilds a mirror from zero under writes;
   docs/consumers.md's event examples equal what this Roster produces (scripts/event_examples.py);
   a subscription in the SET format (scripts/set_check.py): every SET verified with PyJWT against the JWKS and its
   claims checked against RFC 8417, 9967 and 8935, a 400 err logged and retried, a signing-key rotation mid-run;
5b. runs every code sample of README.md and docs/ against this roster dev and checks every
   link there (scripts/docs_samples.py);
5c. checks /api/docs in headless chromium (scripts/docs_check.py; screenshots in
   --artifacts), the admin console and the setup portal through chromium-driver with axe
   (scripts/console_check.py; screenshots in --artifacts/console), validates the served
   OpenAPI document (openapi-spec-validator) and
   runs schemathesis on every admin operation (scripts/openapi_check.py);
6. checks a second `roster dev` on the same port fails with a one-line reason;
7. runs `roster serve` on a new, empty database of that cluster: it migrates at
   start, becomes healthy, honours ROSTER_ADMIN_KEY, creates the first owner that
   ROSTER_BOOTSTRAP_OWNER_* name (who then signs in) and stops cleanly on SIGTERM;
7b. runs two `roster serve` on another new database, SIGKILLs the one delivering webhooks
   mid-delivery and checks the other delivers the rest in order; then a receiver that is
   down for a while catches up in order;
8. checks no secret appeared in any output line except where the banner shows it;
9. sends SIGINT and checks roster exits cleanly and its PostgreSQL is gone
   (process and data directory).

Exits 0 when everything passed, 1 otherwise, with one line per failure.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import uuid
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from badinput_check import check_badinput  # noqa: E402
from console_check import check_console  # noqa: E402
from docs_check import check_docs  # noqa: E402
from docs_samples import check_doc_samples  # noqa: E402
from openapi_check import check_openapi  # noqa: E402
from consumer_check import check_consumer  # noqa: E402
from event_examples import check_event_examples  # noqa: E402
from set_check import check_security_events  # noqa: E402
from webhook_check import check_replicas, check_webhooks  # noqa: E402

BANNER_TIMEOUT = 120  # s, for initdb, PostgreSQL start-up and migrations
SHUTDOWN_TIMEOUT = 30  # s, from SIGINT to roster's exit
GONE_GRACE = 5  # s, for the PostgreSQL pid / data dir to vanish after roster exited
CURL_TIMEOUT = 30  # s, per printed curl line
HTTP_TIMEOUT = 30  # s, per request
WATCHDOG = 20 * 60  # s, the whole run

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SECRET = r"[A-Za-z0-9_-]{43}"
WEBHOOK_SECRET = r"whsec_[A-Za-z0-9+/]{40,}={0,2}"
BANNER = {
    "base_url": re.compile(r"SCIM base URL:\s*(\S+)"),
    "token": re.compile(r"SCIM token:\s*(\S+)"),
    "admin_key": re.compile(r"Admin API key:\s*(\S+)"),
    "postgres": re.compile(r"PostgreSQL:\s*pid\s+(\d+)\s*,\s*data in\s+(\S+)"),
    "database_url": re.compile(r"Database URL:\s*(postgres://\S+)"),
    "secret_key": re.compile(r"Secret key:\s*ROSTER_SECRET_KEY=(\S+)"),
    "console": re.compile(r"Admin console:\s*(\S+)"),
}
CURL_LINE = re.compile(r"^\s*(curl\s.*\S)\s*$")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colours: not part of what a user copies
BANNER_END = re.compile(r"Press Ctrl-C to stop")

# scim2-tester statuses (scim2_tester.Status names).
PASSED = {"SUCCESS", "COMPLIANT", "ACCEPTABLE"}
FAILED = {"ERROR", "CRITICAL"}
# Check tags (first segment) that exercise an optional ServiceProviderConfig feature.
OPTIONAL_FEATURES = {"patch", "bulk", "filter", "sort", "etag", "changePassword"}


class Fail(Exception):
    """A fatal failure: the run cannot go on."""


class Interrupted(BaseException):
    """SIGTERM or the watchdog: not an Exception, so no check swallows it."""


@dataclass
class Banner:
    base_url: str = ""
    token: str = ""
    admin_key: str = ""
    pg_pid: int = 0
    pg_data: str = ""
    database_url: str = ""
    secret_key: str = ""
    console: str = ""
    curls: list[str] = field(default_factory=list)


TRANSCRIPT: list[str] = []  # every line roster printed, both streams, for the secrets check


def say(message: str) -> None:
    print(f"blackbox: {message}", flush=True)


def echo(stream, prefix: str, lines: queue.Queue | None) -> None:
    """Copy a child stream to our stdout with a prefix; hand the lines to `lines` too."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        print(f"{prefix}{line}", flush=True)
        TRANSCRIPT.append(prefix + line)
        if lines is not None:
            lines.put(line)
    if lines is not None:
        lines.put(None)  # EOF


def start_dev(roster: Path, port: int) -> tuple[subprocess.Popen, list[threading.Thread], queue.Queue]:
    """Starts `roster dev --port PORT`; its stdout lines (for read_banner) come through the queue."""
    command = [str(roster), "dev", "--port", str(port), "--log-level", "debug"]
    say(f"starting: {' '.join(command)}")
    # bcrypt at its cheapest: schemathesis creates admin users and fails sign-ins by the hundred, and a
    # debug build hashes at the default cost 12 in seconds. The cost itself is checked by the Swift tests.
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            env=dict(os.environ, ROSTER_PASSWORD_BCRYPT_COST="4"))
    lines: queue.Queue = queue.Queue()
    readers = [
        threading.Thread(target=echo, args=(proc.stdout, "[roster] ", lines), daemon=True),
        threading.Thread(target=echo, args=(proc.stderr, "[roster:err] ", None), daemon=True),
    ]
    for reader in readers:
        reader.start()
    return proc, readers, lines


def origin_of(banner: Banner) -> str:
    """http://HOST:PORT of the SCIM base URL the banner printed."""
    parts = urllib.parse.urlsplit(banner.base_url)
    return f"{parts.scheme}://{parts.netloc}"


def read_banner(proc: subprocess.Popen, lines: queue.Queue) -> Banner:
    banner = Banner()
    deadline = time.monotonic() + BANNER_TIMEOUT
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail(f"no complete banner within {BANNER_TIMEOUT} s "
                       "(is stdout flushed after 'Press Ctrl-C to stop.'?)")
        try:
            line = lines.get(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if line is None:
            time.sleep(0.5)
            code = proc.poll()
            state = "still running" if code is None else f"exit code {code}"
            raise Fail(f"roster closed its stdout ({state}) before printing the whole banner")
        line = ANSI.sub("", line)
        if m := BANNER["base_url"].search(line):
            banner.base_url = m.group(1).rstrip("/")
        elif m := BANNER["token"].search(line):
            banner.token = m.group(1)
        elif m := BANNER["admin_key"].search(line):
            banner.admin_key = m.group(1)
        elif m := BANNER["database_url"].search(line):
            banner.database_url = m.group(1)
        elif m := BANNER["secret_key"].search(line):
            banner.secret_key = m.group(1)
        elif m := BANNER["console"].search(line):
            banner.console = m.group(1)
        elif m := BANNER["postgres"].search(line):
            banner.pg_pid, banner.pg_data = int(m.group(1)), m.group(2).rstrip(",.")
        elif m := CURL_LINE.match(line):
            banner.curls.append(m.group(1))
        elif BANNER_END.search(line):
            break

    missing = [label for label, value in [
        ("SCIM base URL", banner.base_url), ("SCIM token", banner.token),
        ("Admin API key", banner.admin_key), ("PostgreSQL pid/data", banner.pg_pid),
        ("Database URL", banner.database_url), ("Secret key", banner.secret_key),
        ("Admin console", banner.console),
    ] if not value]
    if missing:
        raise Fail(f"banner lacks: {', '.join(missing)}")
    if not re.fullmatch(r"https?://[^/\s]+/scim/v2", banner.base_url):
        raise Fail(f"SCIM base URL {banner.base_url!r} is not http(s)://HOST:PORT/scim/v2")
    if banner.console != banner.base_url.removesuffix("/scim/v2") + "/console":
        raise Fail(f"Admin console {banner.console!r} is not the server's address + /console")
    if not re.fullmatch(f"scim_{SECRET}", banner.token):
        raise Fail(f"SCIM token {banner.token!r} is not scim_ + 43 url-safe base64 characters")
    if not re.fullmatch(f"radm_{SECRET}", banner.admin_key):
        raise Fail(f"admin API key {banner.admin_key!r} is not radm_ + 43 url-safe base64 characters")
    return banner


def short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def check_curl_lines(banner: Banner, failures: list[str]) -> None:
    """Run the printed curl lines verbatim: the README promises they work."""
    kinds_seen = set()
    for line in banner.curls:
        kind = "scim" if "/scim/v2" in line else "admin" if "/api/v1/" in line else None
        if kind is None:
            failures.append(f"printed curl line targets neither /scim/v2 nor /api/v1: {line}")
            continue
        kinds_seen.add(kind)
        try:
            run = subprocess.run(["bash", "-c", line], capture_output=True, timeout=CURL_TIMEOUT,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            failures.append(f"printed curl line timed out after {CURL_TIMEOUT} s: {line}")
            continue
        out = run.stdout.decode("utf-8", errors="replace")
        if run.returncode != 0:
            failures.append(f"printed curl line exited {run.returncode}: {line}: "
                            f"{short(run.stderr.decode('utf-8', errors='replace'))}")
            continue
        try:
            body = json.loads(out)
        except ValueError:
            failures.append(f"printed curl line did not print JSON: {line}: {short(out)!r}")
            continue
        if kind == "scim":
            ok = (isinstance(body, dict) and LIST_RESPONSE in (body.get("schemas") or [])
                  and isinstance(body.get("totalResults"), int))
            expected = "a SCIM ListResponse with totalResults"
        else:
            ok = isinstance(body, dict) and isinstance(body.get("data"), list)
            expected = 'a JSON object with a "data" array'
        if ok:
            say(f"ok: printed curl line ({kind}) returned {expected}")
        else:
            failures.append(f"printed curl line ({kind}) did not return {expected}: {short(out)}")
    for kind in sorted({"scim", "admin"} - kinds_seen):
        failures.append(f"banner has no curl line for the {kind} API")


def http_get(url: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", errors="replace")


def check_credential_separation(banner: Banner, failures: list[str]) -> None:
    parts = urllib.parse.urlsplit(banner.base_url)
    tenants = f"{parts.scheme}://{parts.netloc}/api/v1/tenants"
    users = f"{banner.base_url}/Users"
    cases = [
        ("SCIM token on the admin API", tenants, {"Authorization": f"Bearer {banner.token}"}),
        ("SCIM token as admin key", tenants, {"X-Admin-API-Key": banner.token}),
        ("admin key on the SCIM API", users, {"Authorization": f"Bearer {banner.admin_key}"}),
        ("admin key header on the SCIM API", users, {"X-Admin-API-Key": banner.admin_key}),
        ("no credentials on the admin API", tenants, {}),
        ("no credentials on the SCIM API", users, {}),
    ]
    for what, url, headers in cases:
        try:
            status, text = http_get(url, headers)
        except OSError as err:
            failures.append(f"{what}: request to {url} failed: {err}")
            continue
        try:
            is_json_object = isinstance(json.loads(text), dict)
        except ValueError:
            is_json_object = False
        if status == 401 and is_json_object:
            say(f"ok: {what} -> 401 with a JSON error")
        else:
            failures.append(f"{what}: expected 401 with a JSON object body, got {status}: {short(text)!r}")


def run_cli(roster: Path, banner: Banner, *args: str) -> str:
    """Runs `roster ARGS --database-url URL`; returns stdout, raises Fail on a non-zero exit."""
    command = [str(roster), *args, "--database-url", banner.database_url]
    # The key roster dev seals secrets with: `webhook create` and `rotate` write them.
    env = dict(os.environ, ROSTER_SECRET_KEY=banner.secret_key)
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)
    shown = " ".join(args)
    if result.returncode != 0:
        raise Fail(f"`roster {shown}` exited {result.returncode}: {short(result.stderr or result.stdout)!r}")
    return result.stdout


def check_cli(roster: Path, banner: Banner, failures: list[str]) -> None:
    parts = urllib.parse.urlsplit(banner.base_url)
    admin = f"{parts.scheme}://{parts.netloc}/api/v1"
    users = f"{banner.base_url}/Users"

    def expect(what: str, url: str, headers: dict[str, str], status: int) -> None:
        got, text = http_get(url, headers)
        if got == status:
            say(f"ok: {what} -> {status}")
        else:
            failures.append(f"{what}: expected {status}, got {got}: {short(text)!r}")

    if "Migrations are current" not in run_cli(roster, banner, "migrate"):
        failures.append("`roster migrate` on a migrated database did not say the migrations are current")
    run_cli(roster, banner, "tenant", "create", "blackbox")
    if "blackbox" not in run_cli(roster, banner, "tenant", "list"):
        failures.append("`roster tenant list` does not list the tenant just created")

    out = run_cli(roster, banner, "token", "create", "--tenant", "blackbox", "--name", "cli token")
    token = next((m.group(0) for m in re.finditer(f"scim_{SECRET}", out)), None)
    if token is None:
        raise Fail(f"`roster token create` printed no token: {short(out)!r}")
    expect("CLI-made SCIM token on /Users", users, {"Authorization": f"Bearer {token}"}, 200)
    listing = run_cli(roster, banner, "token", "list", "--tenant", "blackbox")
    if token in listing:
        failures.append("`roster token list` printed a token secret")
    line = next((l for l in listing.splitlines() if "cli token" in l), "")
    token_id = line.split()[0] if line else ""
    if "active" not in line or not token_id:
        raise Fail(f"`roster token list` does not show the new token as active: {short(listing)!r}")
    run_cli(roster, banner, "token", "revoke", "--tenant", "blackbox", token_id)
    expect("revoked CLI token on /Users", users, {"Authorization": f"Bearer {token}"}, 401)

    out = run_cli(roster, banner, "admin-key", "create", "--name", "cli key", "--tenant", "blackbox", "--scope", "scim-tokens")
    key = next((m.group(0) for m in re.finditer(f"radm_{SECRET}", out)), None)
    if key is None:
        raise Fail(f"`roster admin-key create` printed no key: {short(out)!r}")
    expect("tenant-bound CLI admin key on its tokens", f"{admin}/scim/tokens", {"X-Admin-API-Key": key}, 200)
    expect("tenant-bound CLI admin key without the tenants scope", f"{admin}/tenants", {"X-Admin-API-Key": key}, 403)
    check_webhook_cli(roster, banner, admin, failures)


def http_send(method: str, url: str, headers: dict[str, str], body: dict | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={**headers, **({"Content-Type": "application/json"} if data else {})})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", errors="replace")


def check_webhook_cli(roster: Path, banner: Banner, admin: str, failures: list[str]) -> None:
    """`roster webhook`: the secret printed once on create and rotate, never by list; replay and deliveries;
    what the CLI makes is the admin API's too. Also: `roster dev` accepts a loopback receiver."""
    key = {"X-Admin-API-Key": banner.admin_key}
    out = run_cli(roster, banner, "webhook", "create", "--url", "https://hooks.example.invalid/roster",
                  "--event-type", "user.deleted", "--event-type", "user.created", "--description", "cli webhook")
    first = re.search(WEBHOOK_SECRET, out)
    if first is None:
        raise Fail(f"`roster webhook create` printed no whsec_ secret: {short(out.split('whsec_')[0])!r}")
    listing = run_cli(roster, banner, "webhook", "list")
    if "whsec_" in listing:
        failures.append("`roster webhook list` printed a webhook secret")
    line = next((l for l in listing.splitlines() if "cli webhook" in l), "")
    webhook = line.split()[0] if line else ""
    if "user.created,user.deleted" not in line or not webhook:
        raise Fail(f"`roster webhook list` does not show the new subscription: {short(listing)!r}")
    status, text = http_get(f"{admin}/webhooks/{webhook}", key)
    if status != 200 or "whsec_" in text or json.loads(text).get("description") != "cli webhook":
        failures.append(f"GET /api/v1/webhooks/{{id}} of the CLI-made subscription: {status} {short(text)!r}")
    rotated = re.search(WEBHOOK_SECRET, run_cli(roster, banner, "webhook", "rotate", webhook))
    if rotated is None or rotated.group(0) == first.group(0):
        failures.append("`roster webhook rotate` printed no new whsec_ secret")
    status, text = http_get(f"{admin}/webhooks/{webhook}", key)
    if status != 200 or "previous_secret_expires_at" not in text:
        failures.append(f"after `roster webhook rotate`, the subscription has no previous_secret_expires_at: {short(text)!r}")
    before = json.loads(text).get("position", 0) if status == 200 else 0
    status, text = http_get(f"{admin}/events?limit=1", key)
    event = json.loads(text)["data"][0]["id"] if status == 200 and json.loads(text)["data"] else None
    if event is None:
        failures.append(f"no event in the default tenant to replay from: {status} {short(text)!r}")
    else:
        replayed = run_cli(roster, banner, "webhook", "replay", webhook, "--from", event)
        # The dispatcher may move on at once (past events of other types), but not past the first user.created.
        status, text = http_get(f"{admin}/webhooks/{webhook}", key)
        if "position 0" not in replayed or not json.loads(text).get("position", before) < max(before, 1):
            failures.append(f"`roster webhook replay` from the first event did not move position back: {short(replayed)!r}, {short(text)!r}")
    run_cli(roster, banner, "webhook", "deliveries", webhook)
    run_cli(roster, banner, "webhook", "delete", webhook)
    expect_status = http_get(f"{admin}/webhooks/{webhook}", key)[0]
    if expect_status != 404:
        failures.append(f"after `roster webhook delete`, GET /api/v1/webhooks/{{id}} answered {expect_status}, not 404")
    # roster dev receives on this machine: a loopback URL is accepted there (refused by default elsewhere).
    status, text = http_send("POST", f"{admin}/webhooks", key, {"url": "http://127.0.0.1:9/roster"})
    if status == 201:
        http_send("DELETE", f"{admin}/webhooks/{json.loads(text)['id']}", key)
        say("ok: roster webhook create/list/rotate/replay/deliveries/delete; roster dev accepts a loopback receiver")
    else:
        failures.append(f"roster dev refused a loopback webhook URL: {status} {short(text)!r}")


def check_port_taken(roster: Path, banner: Banner, port: int, failures: list[str]) -> None:
    """A second `roster dev` on a busy port must say so in one line, not crash or start PostgreSQL."""
    result = subprocess.run([str(roster), "dev", "--port", str(port)], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL)
    output = result.stdout + result.stderr
    if result.returncode != 0 and "already in use" in output and "Fatal error" not in output and len(output.splitlines()) <= 3:
        say(f"ok: a second roster dev on port {port} exits {result.returncode}: {short(output)}")
    else:
        failures.append(f"second roster dev on a busy port: exit {result.returncode}, output {short(output)!r}")


def check_serve(roster: Path, banner: Banner, port: int, failures: list[str]) -> None:
    """`roster serve` migrates an empty database at start, serves, and stops on SIGTERM."""
    psql = shutil.which("psql")
    if psql is None:
        raise Fail("psql is needed to create the database for the `roster serve` check")
    created = subprocess.run([psql, banner.database_url, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE serve_check"],
                             capture_output=True, text=True, timeout=60)
    if created.returncode != 0:
        raise Fail(f"could not create the serve_check database: {short(created.stderr)}")
    parts = urllib.parse.urlsplit(banner.database_url)
    database_url = urllib.parse.urlunsplit(parts._replace(path="/serve_check"))
    key = "radm_" + secrets.token_urlsafe(32)
    owner, owner_password = "owner@blackbox.example.com", "bb-" + secrets.token_urlsafe(18)
    secret_key = "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    env = dict(os.environ, ROSTER_DATABASE_URL=database_url, ROSTER_ADMIN_KEY=key, ROSTER_SECRET_KEY=secret_key,
               ROSTER_HOST="127.0.0.1", ROSTER_PORT=str(port), ROSTER_LOG_LEVEL="debug", ROSTER_LOG_FORMAT="json",
               ROSTER_BOOTSTRAP_OWNER_EMAIL=owner, ROSTER_BOOTSTRAP_OWNER_PASSWORD=owner_password)
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([str(roster), "serve"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    reader = threading.Thread(target=echo, args=(proc.stdout, "[serve] ", None), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        status, text = 0, ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, text = http_get(f"{base}/api/health", {})
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        if status != 200:
            raise Fail(f"roster serve did not become healthy within 60 s (last: {status} {short(text)!r})")
        if json.loads(text).get("components", {}).get("migrations", {}).get("status") != "current":
            failures.append(f"roster serve is healthy but migrations are not current: {short(text)!r}")
        else:
            say("ok: roster serve migrated an empty database at start and reports healthy")
        status, text = http_get(f"{base}/api/v1/tenants", {"X-Admin-API-Key": key, "X-Request-Id": "blackbox-serve-1"})
        if status == 200:
            say("ok: roster serve accepts ROSTER_ADMIN_KEY on the admin API")
        else:
            failures.append(f"roster serve refused ROSTER_ADMIN_KEY: {status} {short(text)!r}")
        # The container recipe: ROSTER_BOOTSTRAP_OWNER_* make the first owner, who signs in with that password.
        status, text = http_send("POST", f"{base}/api/v1/auth/token", {}, {"email": owner, "password": owner_password})
        if status == 200 and "access_token" in text:
            say("ok: roster serve created the first owner from ROSTER_BOOTSTRAP_OWNER_*, who signs in")
        else:
            failures.append(f"the owner ROSTER_BOOTSTRAP_OWNER_* names cannot sign in: {status} {short(text)!r}")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=SHUTDOWN_TIMEOUT)
        if code == 0:
            say("ok: roster serve stopped cleanly on SIGTERM")
        else:
            failures.append(f"roster serve exited {code} on SIGTERM")
        reader.join(timeout=5)
        leaked = [line for line in TRANSCRIPT
                  if line.startswith("[serve]") and (key in line or owner_password in line or secret_key[3:] in line
                                                      or (parts.password and parts.password in line))]
        if leaked:
            failures.append(f"roster serve printed a secret: {short(leaked[0])!r}")
        check_json_logs([line[len("[serve] "):] for line in TRANSCRIPT if line.startswith("[serve] ")], failures)
    finally:
        if proc.poll() is None:
            kill_pid(proc.pid, signal.SIGKILL, 0)


def check_json_logs(lines: list[str], failures: list[str]) -> None:
    """ROSTER_LOG_FORMAT=json: every line is one JSON object; a request's lines carry its id, tenant and credential."""
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            failures.append(f"roster serve with ROSTER_LOG_FORMAT=json printed a line that is not JSON: {short(line)!r}")
            return
        if not (isinstance(record, dict) and {"time", "level", "message"} <= record.keys()):
            failures.append(f"a JSON log line lacks time, level or message: {short(line)!r}")
            return
        records.append(record)
    tagged = [r for r in records if r.get("request_id") == "blackbox-serve-1"]
    if any(r.get("tenant_id") == "global" and r.get("credential_id") == "bootstrap" for r in tagged):
        say(f"ok: {len(records)} JSON log lines; the admin request's carry its X-Request-Id, tenant and credential id")
    else:
        failures.append(f"no JSON log line carries request_id blackbox-serve-1 with tenant_id and credential_id: {tagged!r}")


def check_no_secrets_logged(banner: Banner, failures: list[str]) -> None:
    """Secrets may appear only on the banner lines that hand them to the developer."""
    password = urllib.parse.urlsplit(banner.database_url).password or ""
    key_material = banner.secret_key.split(":", 1)[-1]
    secrets_shown = {"SCIM token": banner.token, "admin key": banner.admin_key, "database password": password,
                     "secret key": key_material}
    allowed = re.compile(r"^\[roster\] (\s*SCIM token:|\s*Admin API key:|\s*Database URL:|\s*Secret key:|\s*curl\s)")
    for line in TRANSCRIPT:
        for name, value in secrets_shown.items():
            if value and value in line and not allowed.search(line):
                failures.append(f"the {name} appeared in an output line: {short(line)!r}")
                return
        if re.search(WEBHOOK_SECRET, line):  # made by the CLI and schemathesis; never logged
            failures.append(f"a webhook secret appeared in an output line: {short(re.sub(WEBHOOK_SECRET, 'whsec_[redacted]', line))!r}")
            return
    say(f"ok: no secret in {len(TRANSCRIPT)} output lines beyond the banner's own")


def unadvertised_feature(tags: set[str], config) -> str | None:
    """Name the optional feature a check exercises although the server says it lacks it."""
    for tag in tags:
        feature = tag.split(":")[0]
        if feature in OPTIONAL_FEATURES:
            advertised = getattr(config, {"changePassword": "change_password"}.get(feature, feature), None)
            if advertised is None or not advertised.supported:
                return feature
    return None


def run_scim2_tester(banner: Banner, failures: list[str]) -> None:
    try:
        import httpx2
        from scim2_client.engines.httpx2 import SyncSCIMClient
        from scim2_tester import check_server
    except ImportError as err:
        failures.append(f"scim2-tester is not installed ({err}); run: "
                        "python3 -m pip install -r scripts/requirements.txt")
        return

    headers = {"Authorization": f"Bearer {banner.token}"}
    with httpx2.Client(base_url=banner.base_url, headers=headers, timeout=HTTP_TIMEOUT) as http:
        scim = SyncSCIMClient(http)
        # check_server() queries /ServiceProviderConfig, /ResourceTypes and
        # /Schemas itself (as checks), builds the models from them and
        # registers them on the client: no discover() beforehand.
        try:
            results = check_server(scim)
        except Exception as err:  # check_server catches per check; this is a tester crash
            failures.append(f"scim2-tester crashed: {type(err).__name__}: {err}")
            return
        config = scim.provider.config

    counts: Counter[str] = Counter()
    unadvertised: list[str] = []
    for result in results:
        status = result.status.name
        label = result.title or "?"
        if result.resource_type:
            label += f" [{result.resource_type}]"
        feature = unadvertised_feature(result.tags, config) if status != "SKIPPED" else None
        if feature and status not in FAILED:
            status = "UNADVERTISED"
            unadvertised.append(f"{label} ({feature})")
        bucket = ("passed" if status in PASSED else "failed" if status in FAILED
                  else "skipped" if status == "SKIPPED" else status.lower())
        counts[bucket] += 1
        print(f"  {status:<12} {label}: {result.reason or ''}", flush=True)
        if status in FAILED and result.data is not None:
            print(f"  {'':<12}   data: {short(repr(result.data), 500)}", flush=True)

    extra = "".join(f", {counts[k]} {k}" for k in sorted(counts) if k not in ("passed", "failed", "skipped"))
    print(f"scim2-tester summary: {counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['skipped']} skipped{extra}", flush=True)
    for item in unadvertised:
        say(f"note: ran a check for a feature the ServiceProviderConfig does not advertise, "
            f"not counted as a pass: {item}")
    if counts["failed"]:
        failures.append(f"scim2-tester: {counts['failed']} check(s) failed (see the ERROR lines above)")
    if not any(result.resource_type for result in results):
        failures.append("scim2-tester ran no resource checks (discovery did not describe the server)")


def check_bulk(banner: Banner, failures: list[str]) -> None:
    """A Bulk job built with scim2-models (a user, a group holding it by bulkId, a PATCH by bulkId
    path); the response must validate as a BulkResponse and the group must hold the user."""
    try:
        from scim2_models import BulkOperation, BulkRequest, BulkResponse, Context, Group, PatchOp, User
    except ImportError as err:
        failures.append(f"scim2-models is not installed ({err})")
        return
    suffix = uuid.uuid4().hex[:8]
    request = BulkRequest[User | Group](operations=[
        BulkOperation[Group](method="POST", bulk_id="team", path="/Groups",
                             data={"displayName": f"bulk-team-{suffix}", "members": [{"value": "bulkId:ann"}]}),
        BulkOperation[User](method="POST", bulk_id="ann", path="/Users", data={"userName": f"bulk-ann-{suffix}"}),
        BulkOperation[User](method="POST", bulk_id="ben", path="/Users", data={"userName": f"bulk-ben-{suffix}"}),
        BulkOperation[Group](method="PATCH", path="/Groups/bulkId:team", data=PatchOp[Group](operations=[
            {"op": "add", "path": "members", "value": [{"value": "bulkId:ben"}]}])),
    ])
    body = json.dumps(request.model_dump(scim_ctx=Context.BULK_REQUEST)).encode()
    headers = {"Authorization": f"Bearer {banner.token}", "Content-Type": "application/scim+json"}
    post = urllib.request.Request(banner.base_url + "/Bulk", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(post, timeout=HTTP_TIMEOUT) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode(errors="replace")
    if status != 200:
        failures.append(f"bulk: answered {status}: {short(text)}")
        return
    try:
        result = BulkResponse[User | Group].model_validate(json.loads(text), scim_ctx=Context.BULK_RESPONSE)
    except Exception as err:
        failures.append(f"bulk: the response is not a valid BulkResponse: {short(str(err))}")
        return
    statuses = [operation.status for operation in result.operations]
    if statuses != [201, 201, 201, 200]:
        failures.append(f"bulk: statuses {statuses}, expected [201, 201, 201, 200]: {short(text)}")
        return
    ids = [operation.location.rsplit("/", 1)[-1] for operation in result.operations]
    status, group = http_get(f"{banner.base_url}/Groups/{ids[0]}?attributes=members", headers)
    members = {member["value"] for member in json.loads(group).get("members", [])} if status == 200 else set()
    if members != {ids[1], ids[2]}:
        failures.append(f"bulk: the group holds {members}, expected the two new users")
        return
    say("bulk: a scim2-models BulkRequest ran; its response validates as a BulkResponse; the group holds both users")


def pid_alive(pid: int) -> bool:
    """True when the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def stop_roster(proc: subprocess.Popen, banner: Banner, failures: list[str]) -> None:
    say(f"sending SIGINT to roster (pid {proc.pid})")
    os.kill(proc.pid, signal.SIGINT)
    try:
        code = proc.wait(timeout=SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        failures.append(f"roster did not exit within {SHUTDOWN_TIMEOUT} s of SIGINT")
        return
    if code in (0, 130):
        say(f"ok: roster exited with code {code}")
    elif code < 0:
        failures.append(f"roster was killed by signal {-code} instead of exiting (SIGINT not handled?)")
    else:
        failures.append(f"roster exited with code {code} after SIGINT (expected 0 or 130)")

    deadline = time.monotonic() + GONE_GRACE
    while time.monotonic() < deadline and (pid_alive(banner.pg_pid) or os.path.exists(banner.pg_data)):
        time.sleep(0.2)
    if pid_alive(banner.pg_pid):
        failures.append(f"PostgreSQL (pid {banner.pg_pid}) still runs after roster exited")
    else:
        say(f"ok: PostgreSQL pid {banner.pg_pid} is gone")
    if os.path.exists(banner.pg_data):
        failures.append(f"PostgreSQL data directory {banner.pg_data} still exists after roster exited")
    else:
        say(f"ok: data directory {banner.pg_data} is gone")


def kill_pid(pid: int, first: signal.Signals, grace: float) -> None:
    """Send `first`, then SIGKILL after `grace` seconds, to one pid."""
    try:
        os.kill(pid, first)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def cleanup(proc: subprocess.Popen | None, banner: Banner | None) -> None:
    """Kill whatever is left of what this run started, by pid only."""
    if proc is not None and proc.poll() is None:
        say(f"killing roster (pid {proc.pid})")
        kill_pid(proc.pid, signal.SIGTERM, 5)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    if banner is not None and banner.pg_pid and pid_alive(banner.pg_pid):
        say(f"killing PostgreSQL (pid {banner.pg_pid})")
        kill_pid(banner.pg_pid, signal.SIGQUIT, 5)  # SIGQUIT: immediate shutdown, backends too
    if banner is not None and Path(banner.pg_data).name.startswith("roster-pg-"):
        shutil.rmtree(banner.pg_data, ignore_errors=True)


def on_signal(signum, _frame):
    if signum == signal.SIGALRM:
        raise Interrupted(f"the whole run exceeded its {WATCHDOG} s watchdog")
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", required=True, help="path to the roster executable")
    parser.add_argument("--port", type=int, default=18080, help="port for roster dev (default: 18080)")
    parser.add_argument("--artifacts", default=".build/artifacts",
                        help="folder for the run's screenshots (default: .build/artifacts)")
    args = parser.parse_args()

    roster = Path(args.roster)
    if not (roster.is_file() and os.access(roster, os.X_OK)):
        say(f"FAIL: {roster} is not an executable file")
        return 1

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(WATCHDOG)

    failures: list[str] = []
    proc: subprocess.Popen | None = None
    banner: Banner | None = None
    try:
        proc, readers, lines = start_dev(roster, args.port)
        banner = read_banner(proc, lines)
        say(f"banner read: base URL {banner.base_url}, PostgreSQL pid {banner.pg_pid}, data {banner.pg_data}")

        check_curl_lines(banner, failures)
        check_credential_separation(banner, failures)
        run_scim2_tester(banner, failures)
        check_bulk(banner, failures)
        origin = origin_of(banner)
        check_badinput(origin, banner.admin_key, say, failures)
        check_cli(roster, banner, failures)
        check_webhooks(origin, banner.admin_key, banner.base_url, banner.token, say, failures)
        check_security_events(origin, banner.admin_key, banner.base_url, banner.token,
                              lambda: run_cli(roster, banner, "auth", "rotate-signing-key"),
                              lambda *args: run_cli(roster, banner, *args), say, failures)
        check_consumer(origin, banner.admin_key, banner.database_url, say, failures)
        check_event_examples(origin, banner.admin_key, say, failures)
        check_doc_samples(roster, origin, banner.admin_key, banner.token, banner.database_url, banner.secret_key,
                          say, failures)
        check_docs(origin, banner.admin_key, Path(args.artifacts), say, failures)
        check_console(origin, banner.admin_key, Path(args.artifacts), say, failures)
        check_openapi(origin, banner.admin_key, say, failures)  # last of these: its fuzzing may revoke keys
        check_port_taken(roster, banner, args.port, failures)
        check_serve(roster, banner, args.port + 2, failures)
        check_replicas(str(roster), banner.database_url, args.port + 4, say, failures, echo)
        stop_roster(proc, banner, failures)
        for reader in readers:
            reader.join(timeout=5)
        check_no_secrets_logged(banner, failures)
    except (Fail, Interrupted) as err:
        failures.append(str(err))
    except Exception as err:  # a bug here, or an unexpected environment: still clean up
        failures.append(f"unexpected {type(err).__name__}: {err}")
    finally:
        signal.alarm(0)
        cleanup(proc, banner)

    if failures:
        for failure in failures:
            say(f"FAIL: {failure}")
        return 1
    say("OK: roster dev passed the black-box checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
