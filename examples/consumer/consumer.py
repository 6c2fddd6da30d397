"""A reference consumer of Roster's change feed: mirrors one tenant's users, groups and memberships into SQLite.

    python3 consumer.py --roster http://127.0.0.1:8080 --tenant <tenant id> --mirror mirror.sqlite --port 9000
    (with ROSTER_FEED_KEY, ROSTER_SCIM_TOKEN and ROSTER_WEBHOOK_SECRET in the environment)

Point a Roster webhook subscription at http://<this host>:9000/webhooks. What it does, and why:

- **Verify** every delivery with the Standard Webhooks library (signature and timestamp) before reading it.
- **Deduplicate** by position: delivery is at least once, so an event at or below the mirror's position (the last
  sequence number applied) is acknowledged and ignored. Sequence numbers are the tenant's commit order, without gaps.
  The mirror also keeps the id of each of the last 10 000 events it applied: a number delivered again with another
  id, or a catch-up that no longer finds the mirror's last event, means the feed went back (a database failover with
  asynchronous replication lost events and numbered new ones again, or retention passed a mirror down for too
  long), and the mirror is rebuilt from zero.
- **Order**: deliveries to one subscription come in sequence order. An event beyond position + 1 means the mirror
  missed some (it was down, or restored from a backup): it reads them from the pull API first.
- **Catch up** at start and after any gap through `GET /api/v1/tenants/{tenant}/events?after=<position>` (the pull API
  is the source of truth; without `order`, its cursor is the sequence number of the last event read).
- **Rebuild from zero** (`--rebuild`, or an empty mirror): take the feed's head position *first* (the `poll_cursor`
  of `order=desc`), then read every user and group through SCIM, then apply the events after that position. Every
  change committed before the position is in the SCIM read; every change after it is in the feed; a change the SCIM
  read already shows is skipped by its `resource_version` (older than the mirror's) or is applied again to the same
  effect (the same version: an upsert of the same attributes, members added or removed again).
- Each event is applied with its position in one SQLite transaction: a crash leaves the mirror at an event boundary.
- Answers 2xx only once the event is applied; a failure answers 500, and Roster retries on its schedule.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, user_name TEXT NOT NULL, external_id TEXT, active INTEGER,
                                  version INTEGER NOT NULL, attributes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS groups (id TEXT PRIMARY KEY, display_name TEXT NOT NULL, external_id TEXT, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS members (group_id TEXT NOT NULL, member_id TEXT NOT NULL, member_type TEXT NOT NULL,
                                    PRIMARY KEY (group_id, member_id));
CREATE TABLE IF NOT EXISTS position (one INTEGER PRIMARY KEY CHECK (one = 1), sequence INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS applied (sequence INTEGER PRIMARY KEY, id TEXT NOT NULL);
"""


KEPT_IDS = 10_000  # ids of the last events applied, to tell a duplicate from a number given again


class Rewound(Exception):
    """The feed no longer holds what the mirror applied: rebuild from zero."""


class Roster:
    """The two read APIs the consumer uses: the tenant's events (an admin key with `feed:read` on the tenant) and SCIM."""

    def __init__(self, base: str, tenant: str, feed_key: str, scim_token: str) -> None:
        self.base, self.tenant = base.rstrip("/"), tenant
        self.feed_headers = {"X-Admin-API-Key": feed_key}
        self.scim_headers = {"Authorization": f"Bearer {scim_token}"}

    def get(self, path: str, headers: dict[str, str]) -> dict:
        request = urllib.request.Request(self.base + path, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def event_at(self, sequence: int) -> dict | None:
        found = self.events_after(sequence - 1, limit=1)
        return found[0] if found and found[0]["sequence"] == sequence else None

    def events_after(self, sequence: int, limit: int = 500) -> list[dict]:
        return self.get(f"/api/v1/tenants/{self.tenant}/events?after={sequence}&limit={limit}", self.feed_headers)["data"]

    def head(self) -> int:
        """The sequence number of the newest event now: `poll_cursor` of the newest-first page."""
        return int(self.get(f"/api/v1/tenants/{self.tenant}/events?order=desc&limit=1", self.feed_headers)["poll_cursor"])

    def all(self, resource: str, **parameters: str) -> list[dict]:
        """Every User or Group, by SCIM's cursor pagination (RFC 9865), which a concurrent write cannot shift."""
        found, cursor = [], ""
        while True:
            query = urllib.parse.urlencode({"count": 200, "cursor": cursor, **parameters})
            page = self.get(f"/scim/v2/{resource}?{query}", self.scim_headers)
            found += page.get("Resources", [])
            cursor = page.get("nextCursor")
            if not cursor:
                return found

    def groups(self) -> list[dict]:
        """Every group with its members: listed without them (a page of large groups is refused, 400 tooMany, past the
        server's member budget), then each read by id. A group deleted meanwhile is left out (its deletion is in the feed)."""
        groups = []
        for listed in self.all("Groups", excludedAttributes="members"):
            try:
                groups.append(self.get(f"/scim/v2/Groups/{listed['id']}", self.scim_headers))
            except urllib.error.HTTPError as err:
                if err.code != 404:
                    raise
        return groups


def version_of(resource: dict) -> int:
    """meta.version is a weak ETag, W/"<n>": the same number as an event's resource_version."""
    return int(resource["meta"]["version"].removeprefix("W/").strip('"'))


class Mirror:
    """The SQLite mirror. Every method runs in one transaction of its own."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()  # one writer: deliveries and catch-up apply one event at a time, in order

    @property
    def position(self) -> int | None:
        row = self.db.execute("SELECT sequence FROM position").fetchone()
        return row[0] if row else None

    def applied_id(self, sequence: int) -> str | None:
        row = self.db.execute("SELECT id FROM applied WHERE sequence = ?", (sequence,)).fetchone()
        return row[0] if row else None

    def apply(self, event: dict) -> None:
        """One event and the new position, together. An event at or below the position is a duplicate, unless the mirror
        applied another id at its number: then the feed went back, and `Rewound` is raised."""
        sequence = event["sequence"]
        if sequence <= (self.position or 0):
            if (seen := self.applied_id(sequence)) is not None and seen != event["id"]:
                raise Rewound(f"event {sequence} is {event['id']} now; the mirror applied {seen}")
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.change(event)
            self.db.execute("INSERT INTO position VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET sequence = excluded.sequence",
                            (sequence,))
            self.db.execute("INSERT OR REPLACE INTO applied VALUES (?, ?)", (sequence, event["id"]))
            self.db.execute("DELETE FROM applied WHERE sequence <= ?", (sequence - KEPT_IDS,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def change(self, event: dict) -> None:
        kind, rid, version, data = event["type"], event["resource_id"], event["resource_version"], event["data"]
        table = "users" if event["resource_type"] == "User" else "groups"
        current = self.db.execute(f"SELECT version FROM {table} WHERE id = ?", (rid,)).fetchone()  # noqa: S608 - fixed names
        # Older than what the mirror holds (a rebuild's SCIM read saw a later version): already reflected.
        if current and version < current[0]:
            return
        if kind.endswith(".deleted"):
            self.db.execute(f"DELETE FROM {table} WHERE id = ?", (rid,))  # noqa: S608
            self.db.execute("DELETE FROM members WHERE group_id = ? OR member_id = ?", (rid, rid))
        elif kind.startswith("user."):
            self.upsert_user(rid, version, data)
        elif kind in ("group.created", "group.updated"):
            self.upsert_group(rid, version, data)
        elif kind == "group.members.added":
            self.db.executemany("INSERT OR IGNORE INTO members VALUES (?, ?, ?)",
                                [(rid, m["value"], m.get("type", "User")) for m in data["members"]])
            self.db.execute("UPDATE groups SET version = max(version, ?) WHERE id = ?", (version, rid))
        elif kind == "group.members.removed":
            self.db.executemany("DELETE FROM members WHERE group_id = ? AND member_id = ?", [(rid, m["value"]) for m in data["members"]])
            self.db.execute("UPDATE groups SET version = max(version, ?) WHERE id = ?", (version, rid))
        else:
            # A type this consumer does not know (the feed may grow): its position still moves on, it changes nothing here.
            print(f"consumer: ignoring an event of type {kind}", file=sys.stderr, flush=True)

    def upsert_user(self, rid: str, version: int, data: dict) -> None:
        active = data.get("active")
        self.db.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, "
            "external_id = excluded.external_id, active = excluded.active, version = excluded.version, attributes = excluded.attributes",
            (rid, data["userName"], data.get("externalId"), None if active is None else int(active), version,
             json.dumps(data, sort_keys=True)))

    def upsert_group(self, rid: str, version: int, data: dict) -> None:
        self.db.execute(
            "INSERT INTO groups VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, "
            "external_id = excluded.external_id, version = excluded.version",
            (rid, data["displayName"], data.get("externalId"), version))

    def rebuild(self, roster: Roster) -> None:
        """From zero: the head position first, then everything SCIM shows, then the events after the position."""
        with self.lock:
            head = roster.head()
            head_event = roster.event_at(head) if head else None
            users, groups = roster.all("Users"), roster.groups()
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for table in ("users", "groups", "members", "position", "applied"):
                    self.db.execute(f"DELETE FROM {table}")  # noqa: S608
                attributes = ("id", "meta", "groups")  # what an event's data does not carry
                for user in users:
                    self.upsert_user(user["id"], version_of(user), {k: v for k, v in user.items() if k not in attributes})
                for group in groups:
                    self.upsert_group(group["id"], version_of(group), group)
                    self.db.executemany("INSERT OR IGNORE INTO members VALUES (?, ?, ?)",
                                        [(group["id"], m["value"], m.get("type", "User")) for m in group.get("members", [])])
                self.db.execute("INSERT INTO position VALUES (1, ?)", (head,))
                if head_event:
                    self.db.execute("INSERT INTO applied VALUES (?, ?)", (head, head_event["id"]))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.catch_up(roster)

    def catch_up(self, roster: Roster) -> None:
        """Applies every event after the position from the pull API, until there is none; first checks that the feed
        still holds the mirror's last event, with the id the mirror applied."""
        position = self.position or 0
        if position and (seen := self.applied_id(position)) is not None:
            now = roster.event_at(position)
            if now is None or now["id"] != seen:
                raise Rewound(f"the feed no longer holds event {position} ({seen}) that the mirror applied last")
        while events := roster.events_after(self.position or 0):
            for event in events:
                self.apply(event)


def serve(mirror: Mirror, roster: Roster, secret: str, port: int) -> ThreadingHTTPServer:
    """The webhook endpoint: verify, then apply in order (catching up first after a gap), then 204."""
    webhook = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                payload = webhook.verify(body, {k.lower(): v for k, v in self.headers.items()})
            except Exception:  # noqa: BLE001 - the library's verification error: not from Roster, or replayed late
                return self.answer(401)
            event = payload["data"]
            if payload["type"] == "webhook.test":
                return self.answer(204)
            try:
                try:
                    with mirror.lock:
                        if event["sequence"] > (mirror.position or 0) + 1:
                            mirror.catch_up(roster)  # a gap: the pull API has every committed event
                        mirror.apply(event)
                except Rewound as rewound:
                    print(f"consumer: the feed went back ({rewound}); rebuilding the mirror", file=sys.stderr, flush=True)
                    mirror.rebuild(roster)  # its catch-up applies this event too: it is committed
            except Exception as err:  # noqa: BLE001 - anything: answer 500 and let Roster retry
                print(f"consumer: event {event.get('sequence')} not applied: {err}", file=sys.stderr, flush=True)
                return self.answer(500)
            self.answer(204)

        def answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", required=True, help="Roster's base URL")
    parser.add_argument("--tenant", required=True, help="the tenant's id")
    parser.add_argument("--mirror", required=True, help="the SQLite file of the mirror")
    parser.add_argument("--port", type=int, required=True, help="the port of the webhook endpoint (on 127.0.0.1)")
    parser.add_argument("--rebuild", action="store_true", help="drop the mirror and rebuild it from zero first")
    parser.add_argument("--once", action="store_true", help="catch up (or rebuild) and exit, without serving webhooks")
    args = parser.parse_args()
    roster = Roster(args.roster, args.tenant, os.environ["ROSTER_FEED_KEY"], os.environ["ROSTER_SCIM_TOKEN"])
    mirror = Mirror(args.mirror)
    rebuild = args.rebuild or mirror.position is None
    if not rebuild:
        try:
            with mirror.lock:
                mirror.catch_up(roster)
        except Rewound as rewound:
            print(f"consumer: the feed went back ({rewound}); rebuilding the mirror", file=sys.stderr, flush=True)
            rebuild = True
    if rebuild:
        mirror.rebuild(roster)
    if args.once:
        print(f"consumer: mirror at position {mirror.position}", flush=True)
        return 0
    server = serve(mirror, roster, os.environ["ROSTER_WEBHOOK_SECRET"], args.port)
    print(f"consumer: mirror at position {mirror.position}; webhooks on http://127.0.0.1:{args.port}/webhooks", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
