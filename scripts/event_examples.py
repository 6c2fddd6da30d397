#!/usr/bin/env python3
"""docs/consumers.md's event examples, produced by a live Roster so that they cannot drift from the code.

Usage: python3 scripts/event_examples.py --roster .build/debug/roster [--port 18096]
           starts its own `roster dev`, makes the changes, and rewrites the examples section of docs/consumers.md
scripts/blackbox.py calls check_event_examples() with the `roster dev` it started: the section must equal what the
running code produces now, or the run fails (regenerate with the command above).

In a new tenant, through its own SCIM token, it makes one change of each kind an identity provider makes, reads the
tenant's events back from the pull API, keeps the first event of each type, and writes each as JSON with its ids,
times and the tenant's name replaced by stable placeholders (ids numbered by first appearance). The webhook body of
the first is shown as well: `{type, timestamp, data}`, `data` being the event; and, from a subscription in the `set`
format on a loopback receiver, two Security Event Tokens decoded (header and claims; the key id, times and origin
replaced too).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook_check import GROUP, USER, Receiver, Scim, call  # noqa: E402

DOC = Path(__file__).resolve().parent.parent / "docs" / "consumers.md"
START, END = "<!-- event-examples:start -->", "<!-- event-examples:end -->"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def changes(scim: Scim) -> None:
    """One change of each kind, in an order that shows every event type."""
    ann = scim("POST", "/Users", {"schemas": [USER], "userName": "ann@example.com", "externalId": "00u1ann",
                                  "name": {"givenName": "Ann", "familyName": "Lee"}, "active": True,
                                  "emails": [{"value": "ann@example.com", "type": "work", "primary": True}]})["id"]
    scim.patch(f"/Users/{ann}", [{"op": "replace", "path": "title", "value": "Engineer"}])
    scim.patch(f"/Users/{ann}", [{"op": "replace", "path": "active", "value": False}])
    scim.patch(f"/Users/{ann}", [{"op": "replace", "path": "active", "value": True}])
    bob = scim("POST", "/Users", {"schemas": [USER], "userName": "bob@example.com"})["id"]
    team = scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "Engineering", "externalId": "00g1eng",
                                    "members": [{"value": ann}]})["id"]
    scim.patch(f"/Groups/{team}", [{"op": "add", "path": "members", "value": [{"value": bob}]}])
    scim.patch(f"/Groups/{team}", [{"op": "replace", "path": "displayName", "value": "Platform Engineering"}])
    scim.patch(f"/Groups/{team}", [{"op": "remove", "path": f'members[value eq "{bob}"]'}])
    scim("DELETE", f"/Users/{ann}")
    scim("DELETE", f"/Groups/{team}")


def placeholders(text: str, tenant_name: str) -> str:
    """Ids numbered by first appearance, every time the same, and the tenant's random name fixed."""
    seen: dict[str, str] = {}

    def number(match: re.Match) -> str:
        return seen.setdefault(match.group(0), f"00000000-0000-4000-8000-{len(seen) + 1:012d}")

    return TIME.sub("2026-01-02T03:04:05.678Z", UUID.sub(number, text)).replace(tenant_name, "acme")


def decoded(token: bytes, origin: str) -> str:
    """A SET's header and claims as JSON, its key id, times and Roster's origin replaced by placeholders."""
    def part(text: bytes) -> dict:
        return json.loads(base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4)))

    header, claims = (part(p) for p in token.split(b".")[:2])
    header["kid"] = "<kid: a key of /api/v1/auth/jwks.json>"
    claims.update(iat=1767323045, toe=1767323045)
    text = json.dumps({"header": header, "claims": claims}, indent=2, sort_keys=True)
    return text.replace(origin, "https://roster.example.com")


def section(origin: str, admin_key: str) -> str:
    """The markdown between the markers: one example per event type, and a webhook body."""
    admin = {"X-Admin-API-Key": admin_key, "Content-Type": "application/json"}
    name = f"examples-{secrets.token_hex(4)}"
    status, tenant = call(f"{origin}/api/v1/tenants", admin, {"name": name}, "POST")
    if status != 201:
        raise RuntimeError(f"creating a tenant answered {status}: {tenant}")
    status, token = call(f"{origin}/api/v1/tenants/{tenant['id']}/scim/tokens", admin, {"name": "examples"}, "POST")
    receiver = Receiver(answer=lambda n: (202, None))
    receiver.start()
    try:
        status, _ = call(f"{origin}/api/v1/tenants/{tenant['id']}/webhooks", admin, {
            "url": receiver.url, "format": "set", "set_audience": "https://app.example.com/scim-events"}, "POST")
        if status != 201:
            raise RuntimeError(f"creating a SET subscription answered {status}")
        changes(Scim(f"{origin}/scim/v2", token["token"]))
        sets = [body for _, body in receiver.wait(13, 30)]
    finally:
        receiver.stop()
    if len(sets) < 2:
        raise RuntimeError(f"{len(sets)} SETs arrived within 30 s")
    events: list[dict] = []
    deadline = time.monotonic() + 30
    while len(events) < 13 and time.monotonic() < deadline:  # stamped a moment after each commit
        events = call(f"{origin}/api/v1/tenants/{tenant['id']}/events?limit=100", admin)[1]["data"]
        time.sleep(0.1)
    first: dict[str, dict] = {}
    for event in events:
        first.setdefault(event["type"], event)
    parts = ["The first event of each type from one run of `scripts/event_examples.py` (ids, times and the tenant "
             "replaced by placeholders; the sequence numbers are that tenant's).\n"]
    for kind, event in first.items():
        parts.append(f"#### `{kind}`\n\n```json\n{json.dumps(event, indent=2, sort_keys=True)}\n```\n")
    body = {"type": events[0]["type"], "timestamp": events[0]["occurred_at"], "data": events[0]}
    parts.append("#### A webhook's body\n\n`{type, timestamp, data}`, `data` being the event as above:\n\n"
                 f"```json\n{json.dumps(body, indent=2, sort_keys=True)}\n```\n")
    parts.append("#### The same events as Security Event Tokens\n\nA subscription with `\"format\": \"set\"` and "
                 "`set_audience` receives each event as a SET; `user.created` and `user.updated` decoded (what PyJWT's "
                 "`jwt.get_unverified_header` and `jwt.decode` return):\n")
    for token in sets[:2]:
        parts.append(f"```json\n{decoded(token, origin)}\n```\n")
    call(f"{origin}/api/v1/tenants/{tenant['id']}", admin, None, "DELETE")
    return placeholders("\n".join(parts), name)


def replace_section(text: str, generated: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{generated}{END}{tail}"


def check_event_examples(origin: str, admin_key: str, say, failures: list[str]) -> None:
    text = DOC.read_text()
    try:
        if replace_section(text, section(origin, admin_key)) != text:
            failures.append("docs/consumers.md: the event examples differ from what Roster produces now; "
                            "regenerate them with python3 scripts/event_examples.py --roster .build/debug/roster")
        else:
            say("ok: docs/consumers.md's event examples are what Roster produces now")
    except (RuntimeError, OSError, KeyError, ValueError) as err:
        failures.append(f"event examples: {type(err).__name__}: {err}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", required=True, help="the roster executable")
    parser.add_argument("--port", type=int, default=18096)
    args = parser.parse_args()
    from blackbox import cleanup, origin_of, read_banner, start_dev  # noqa: PLC0415 - only when run on its own

    proc = banner = None
    try:
        proc, _, lines = start_dev(Path(args.roster), args.port)
        banner = read_banner(proc, lines)
        DOC.write_text(replace_section(DOC.read_text(), section(origin_of(banner), banner.admin_key)))
        print(f"event_examples: wrote {DOC}")
    finally:
        cleanup(proc, banner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
