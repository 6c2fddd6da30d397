#!/usr/bin/env python3
"""The change feed at volume: 10 million events read by cursor, a day's partition dropped, a subscription catching up.

Usage: python3 scripts/bench_feed_volume.py [--roster .build/release/roster] [--events 10000000] [--tenants 5]
       [--days 30] [--requests 300] [--seconds 20]

One command, loopback only, bounded; it stops only the processes it started, by pid, and deletes its cluster.
1. A throwaway PostgreSQL 15 (bench_peer's: fsync on), migrated by `roster migrate`.
2. EVENTS events seeded in SQL into the real `events` table (its partitions made by create_feed_partitions, every
   index in place), spread evenly over the DAYS days before now and over TENANTS tenants (bench-1, …): three in five
   a user's body (about 400 bytes of JSON), the rest a one-member delta, as SCIM writes make them; numbered per
   tenant as stamps number them, their days recorded by record_event_days(), then ANALYZE. Two psql sessions seed
   half the days each.
3. `roster serve` (rate limits off) on that database, then, one request at a time:
   - GET /api/v1/tenants/bench-1/events?after=CURSOR&limit=100, REQUESTS times each: at the head (the last 100
     events), caught up (after the head: the empty page a poller mostly gets) and deep in history (a random cursor in
     the oldest tenth): p50 and p99 latency;
   - one day's partition (the oldest) dropped as retention drops it (drop_feed_partitions) against the same rows
     deleted with one DELETE (in a transaction rolled back first, so the drop finds them), and against a DELETE
     committed on the next day plus the VACUUM it leaves behind;
   - webhook catch-up: a subscription replayed from CATCH_UP events back, delivering to a receiver on loopback that
     answers 204: events per second over SECONDS seconds, with duplicates and order breaks (both must be 0).
Figures are one run's on a shared 2-core machine, where PostgreSQL, roster and this script share the cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench_peer import Client, Cluster, free_port, say, stop
from bench_webhooks import Receiver
from devserver import wait_ready

CATCH_UP = 1_000_000

# One session's share of the seed: events FIRST..LAST of TOTAL (numbered n), event n at n/TOTAL of the way through
# DAYS days ending now, of tenant n % TENANTS, which numbers it (n - 1) / TENANTS + 1. Payloads come from a
# thousand made once (jsonb building was most of the seed's time otherwise).
SEED = """
CREATE TEMP TABLE bench_tenants AS
    SELECT row_number() OVER (ORDER BY name) - 1 AS k, id FROM tenants WHERE name LIKE 'bench-%';
CREATE TEMP TABLE bench_payloads AS
    SELECT k, CASE WHEN k % 5 < 3 THEN jsonb_build_object(
                   'schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
                   'id', gen_random_uuid(), 'userName', 'user' || k || '@example.com', 'externalId', md5(k::text),
                   'name', jsonb_build_object('givenName', 'Given' || k, 'familyName', 'Family' || k),
                   'displayName', 'Given' || k || ' Family' || k, 'active', true, 'title', 'Engineer',
                   'emails', jsonb_build_array(jsonb_build_object('value', 'user' || k || '@example.com', 'type', 'work', 'primary', true)),
                   'meta', jsonb_build_object('resourceType', 'User', 'version', 'W/"2"'))
               ELSE jsonb_build_object('members', jsonb_build_array(jsonb_build_object('value', gen_random_uuid(), 'type', 'User'))) END
           AS data
    FROM generate_series(0, 999) k;
INSERT INTO events (tenant_id, seq, id, type, resource_type, resource_id, resource_version, actor_type, actor_id,
                    transaction_id, occurred_at, data)
SELECT t.id, (g.n - 1) / {tenants} + 1, gen_random_uuid(),
       CASE WHEN g.n % 5 < 3 THEN 'user.updated' ELSE 'group.members.added' END,
       CASE WHEN g.n % 5 < 3 THEN 'User' ELSE 'Group' END,
       gen_random_uuid(), 2, 'scim_token', gen_random_uuid(), gen_random_uuid(),
       now() - make_interval(days => {days}) + (g.n::float8 / {total}) * make_interval(days => {days}), p.data
FROM generate_series({first}, {last}) AS g(n)
JOIN bench_tenants t ON t.k = g.n % {tenants}
JOIN bench_payloads p ON p.k = g.n % 1000;
"""


def seed(cluster: Cluster, events: int, tenants: int, days: int) -> float:
    """Seeds the events (two sessions at once, half each); returns the seconds it took."""
    cluster.psql("roster", f"INSERT INTO tenants (name) SELECT 'bench-' || t FROM generate_series(1, {tenants}) t",
                 f"SELECT create_feed_partitions('events', now() - make_interval(days => {days}), now() + interval '3 days', 1, interval '0')",
                 f"SELECT create_feed_partitions('webhook_deliveries', now() - make_interval(days => {days}), now() + interval '3 days', 1, interval '0')")
    started = time.monotonic()
    half = events // 2
    sessions = [subprocess.Popen(["psql", cluster.url("roster"), "-q", "-v", "ON_ERROR_STOP=1", "-c",
                                  SEED.format(tenants=tenants, days=days, total=events, first=first, last=last)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for first, last in ((1, half), (half + 1, events))]
    for session in sessions:
        _, error = session.communicate()
        if session.returncode:
            raise RuntimeError(f"seeding failed: {error[-1500:]}")
    cluster.psql("roster", "SELECT record_event_days()",
                 "INSERT INTO event_sequences (tenant_id, last_seq) SELECT tenant_id, max(last_seq) FROM event_days GROUP BY 1",
                 "ANALYZE")
    return time.monotonic() - started


@contextlib.contextmanager
def roster_serve(roster: str, cluster: Cluster, folder: Path, admin_key: str) -> Iterator[int]:
    """`roster serve` on the migrated database with rate limits off and loopback receivers allowed; yields its port."""
    port = free_port()
    key = subprocess.run([roster, "secrets", "generate-key", "--id", "bench"], capture_output=True, text=True,
                         check=True).stdout.split()[-1]
    env = dict(os.environ, ROSTER_DATABASE_URL=cluster.url("roster"), ROSTER_SECRET_KEY=key, ROSTER_HOST="127.0.0.1",
               ROSTER_PORT=str(port), ROSTER_ADMIN_KEY=admin_key, ROSTER_RATE_LIMIT_SCIM="off", ROSTER_RATE_LIMIT_ADMIN="off",
               ROSTER_WEBHOOK_ALLOW_PRIVATE_URLS="true", ROSTER_LOG_LEVEL="error")
    proc = subprocess.Popen([roster, "serve"], env=env, stdout=open(folder / "roster.log", "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_ready(port, proc)
        yield port
    finally:
        stop(proc)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def page_latency(client: Client, cursors: list[int]) -> tuple[float, float, int]:
    """p50 and p99 in ms of one page per cursor, and the events the pages held."""
    timings, held = [], 0
    for cursor in cursors:
        started = time.perf_counter()
        page = client.ok("GET", f"/api/v1/tenants/bench-1/events?after={cursor}&limit=100")
        timings.append((time.perf_counter() - started) * 1000)
        held += len(page["data"])
    return statistics.median(timings), percentile(timings, 0.99), held


def timed_psql(cluster: Cluster, *statements: str) -> list[float]:
    """Runs the statements in one session; returns each one's time in ms as psql's \\timing reports it."""
    command = ["psql", cluster.url("roster"), "-v", "ON_ERROR_STOP=1", "-qAt", "-c", "\\timing on"]
    for statement in statements:
        command += ["-c", statement]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [float(ms) for ms in re.findall(r"Time: ([\d.]+) ms", out)]


def retention(cluster: Cluster) -> None:
    (name, starts, ends), (second, second_starts, second_ends) = [line.split("|") for line in cluster.psql(
        "roster", "SELECT partition || '|' || starts || '|' || ends FROM feed_partitions('events') ORDER BY starts LIMIT 2").splitlines()]
    rows = int(cluster.psql("roster", f"SELECT count(*) FROM {name}"))
    size = cluster.psql("roster", f"SELECT pg_size_pretty(pg_total_relation_size('{name}'))")
    deleted = timed_psql(cluster, "BEGIN", f"DELETE FROM events WHERE occurred_at >= '{starts}' AND occurred_at < '{ends}'", "ROLLBACK")[1]
    dropped = timed_psql(cluster, f"SELECT * FROM drop_feed_partitions('events', '{ends}', '5 seconds')")[0]
    gone = cluster.psql("roster", f"SELECT to_regclass('{name}') IS NULL") == "t"
    say(f"retention: the oldest day, {name}: {rows} events, {size} with its indexes")
    print(f"drop one day's partition (drop_feed_partitions)   {dropped:>10.1f} ms" + ("" if gone else "   (NOT dropped)"))
    print(f"DELETE of the same {rows} rows (rolled back)    {deleted:>10.1f} ms   = {deleted / dropped:.1f} x the drop")
    rows = int(cluster.psql("roster", f"SELECT count(*) FROM {second}"))
    delete, vacuum = timed_psql(
        cluster, f"DELETE FROM events WHERE occurred_at >= '{second_starts}' AND occurred_at < '{second_ends}'", f"VACUUM {second}")
    print(f"DELETE of the next day's {rows} rows, committed   {delete:>10.1f} ms   + VACUUM {vacuum:.1f} ms"
          f"   = {(delete + vacuum) / dropped:.1f} x the drop")
    if not gone:
        raise RuntimeError(f"retention did not drop {name}")


def catch_up(client: Client, head: int, seconds: int) -> None:
    receiver = Receiver()
    receiver.start()
    start = max(1, head - CATCH_UP)
    first = client.ok("GET", f"/api/v1/tenants/bench-1/events?after={start - 1}&limit=1")["data"][0]
    subscription = client.ok("POST", "/api/v1/tenants/bench-1/webhooks", {"url": f"http://127.0.0.1:{receiver.port}/hook"})
    client.ok("POST", f"/api/v1/tenants/bench-1/webhooks/{subscription['id']}/replay", {"event_id": first["id"]})
    began = time.monotonic()
    while receiver.count() == 0 and time.monotonic() - began < 30:
        time.sleep(0.01)
    began = time.monotonic()
    counted = receiver.count()
    time.sleep(seconds)
    elapsed = time.monotonic() - began
    received = receiver.count() - counted
    client.ok("PATCH", f"/api/v1/tenants/bench-1/webhooks/{subscription['id']}", {"enabled": False})
    sequences = [json.loads(body)["data"]["sequence"] for _, body in receiver.received.get("/hook", [])]
    duplicates = len(sequences) - len(set(sequences))
    breaks = sum(1 for a, b in zip(sequences, sequences[1:]) if b <= a)
    print(f"webhook catch-up from {CATCH_UP} events behind    {received / elapsed:>10.0f} events/s over {elapsed:.0f} s"
          f"   (first delivered: sequence {sequences[0] if sequences else '-'}; duplicates {duplicates}, order breaks {breaks})")
    if duplicates or breaks or not received:
        raise RuntimeError("webhook catch-up: nothing delivered, or a duplicate or order break")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", default=".build/release/roster")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--tenants", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=300, help="pages read at each place in the feed")
    parser.add_argument("--seconds", type=int, default=20, help="how long the webhook catch-up is measured")
    args = parser.parse_args()
    admin_key = "bench-" + os.urandom(24).hex()
    with tempfile.TemporaryDirectory() as folder, Cluster() as cluster:
        cluster.create_database("roster")
        subprocess.run([args.roster, "migrate"], env=dict(os.environ, ROSTER_DATABASE_URL=cluster.url("roster")),
                       capture_output=True, check=True)
        say(f"seeding {args.events} events over {args.days} days, {args.tenants} tenants")
        seconds = seed(cluster, args.events, args.tenants, args.days)
        partitions = cluster.psql("roster", "SELECT count(*) FROM feed_partitions('events')")
        size = cluster.psql("roster", "SELECT pg_size_pretty(sum(pg_total_relation_size(partition))) FROM feed_partitions('events')")
        head = int(cluster.psql("roster", "SELECT last_seq FROM event_sequences s JOIN tenants t ON t.id = s.tenant_id WHERE t.name = 'bench-1'"))
        print(f"bench: {args.events} events ({size} with indexes, {partitions} partitions of a day), {args.tenants} tenants; "
              f"bench-1 holds {head}; one run, machine shared")
        print(f"seed in SQL (2 sessions)                           {seconds:>10.1f} s   = {args.events / seconds:.0f} events/s")
        with roster_serve(args.roster, cluster, Path(folder), admin_key) as port:
            client = Client(port, admin_key)
            client.headers["Content-Type"] = "application/json"
            client.ok("GET", f"/api/v1/tenants/bench-1/events?after={head - 100}&limit=100")  # warm: the connection, the plans
            rng = random.Random(20)
            places = [("at the head (the last 100 events)", [head - 100] * args.requests),
                      ("caught up (after the head, empty)", [head] * args.requests),
                      ("deep (random cursor, oldest tenth)", [rng.randrange(0, head // 10) for _ in range(args.requests)])]
            for label, cursors in places:
                p50, p99, held = page_latency(client, cursors)
                print(f"GET /events?after&limit=100 {label:<38} p50 {p50:>6.2f} ms  p99 {p99:>6.2f} ms"
                      f"  ({args.requests} pages, {held / args.requests:.0f} events each)")
            retention(cluster)
            catch_up(client, head, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
