#!/usr/bin/env python3
"""Pool fairness: tenant B's GET by id while tenant A floods one process with slow filters.

Usage: python3 scripts/bench_fairness.py [--roster .build/release/roster] [--users 100000] [--seconds 8]

Starts `roster dev` for its PostgreSQL, seeds tenant A ("default") with users straight into the
database, creates tenant B with one user, then runs `roster serve` on that database twice, one
after the other: with the default tenant share (ROSTER_TENANT_POOL_SHARE_PERCENT=50) and with no
share (100). In each, wrk sends tenant A's unindexed `name.familyName co` filter on 32 connections
while one client sends tenant B's GET /Users/{id} one after another on a kept-alive connection;
it prints A's req/s and 429s, and B's latency (p50, p99, max). Loopback only; stops what it started.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from devserver import roster_dev, stop, wait_ready

SEED = """
INSERT INTO users (tenant_id, id, user_name, created, last_modified, body)
SELECT t.id, gen_random_uuid(), 'user-' || i, now(), now(),
       jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
                          'userName', 'user-' || i, 'name', jsonb_build_object('familyName', 'Family' || i))
FROM generate_series(1, {count}) AS i, (SELECT id FROM tenants WHERE name = 'default') AS t;
"""


def admin(origin: str, key: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(origin + "/api/v1" + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"X-Admin-API-Key": key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def run_mode(args, banner: dict, share: int, b_token: str, b_user: str) -> dict:
    port = args.port + 1
    a_token = banner["token"]
    env = dict(os.environ, ROSTER_DATABASE_URL=banner["db"], ROSTER_SECRET_KEY=banner["secret_key"], ROSTER_PORT=str(port), ROSTER_HOST="127.0.0.1",
               ROSTER_LOG_LEVEL="error", ROSTER_WEBHOOKS="false", ROSTER_RATE_LIMIT_SCIM="off",
               ROSTER_DATABASE_MAX_CONNECTIONS=str(args.pool), ROSTER_TENANT_POOL_SHARE_PERCENT=str(share))
    proc = subprocess.Popen([args.roster, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_ready(port, proc)
        slow = f"http://127.0.0.1:{port}/scim/v2/Users?count=5&filter=" + urllib.parse.quote('name.familyName co "nobody"')
        wrk = subprocess.Popen(["wrk", "-t2", "-c32", f"-d{args.seconds}s", "--timeout", "30s",
                                "-H", f"Authorization: Bearer {a_token}", slow],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1)  # A's requests fill the pool first
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies: list[float] = []
        failures = 0
        deadline = time.monotonic() + args.seconds - 1.5
        while time.monotonic() < deadline:
            started = time.perf_counter()
            connection.request("GET", f"/scim/v2/Users/{b_user}", headers={"Authorization": f"Bearer {b_token}"})
            response = connection.getresponse()
            response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            failures += response.status != 200
            time.sleep(0.02)
        connection.close()
        out, _ = wrk.communicate(timeout=args.seconds + 60)
        rate = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
        refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return {"share": share, "a_rate": rate, "a_refused": int(refused.group(1)) if refused else 0,
                "b_p50": percentile(latencies, 0.5), "b_p99": percentile(latencies, 0.99), "b_max": max(latencies),
                "b_count": len(latencies), "b_failures": failures}
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", default=".build/release/roster")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--pool", type=int, default=8, help="ROSTER_DATABASE_MAX_CONNECTIONS of the measured server")
    parser.add_argument("--port", type=int, default=18290)
    args = parser.parse_args()
    for tool in ("wrk", "psql"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is needed (apt-get install wrk postgresql-client)")
            return 1
    with roster_dev(args.roster, args.port) as (_, banner):
        subprocess.run(["psql", banner["db"], "-q", "-v", "ON_ERROR_STOP=1", "-c", SEED.format(count=args.users),
                        "-c", "VACUUM ANALYZE users"], check=True)
        admin(banner["origin"], banner["key"], "POST", "/tenants", {"name": "bravo"})
        b_token = admin(banner["origin"], banner["key"], "POST", "/tenants/bravo/scim/tokens", {"name": "bench"})["token"]
        request = urllib.request.Request(
            banner["base"] + "/Users", method="POST",
            data=json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob"}).encode(),
            headers={"Authorization": f"Bearer {b_token}", "Content-Type": "application/scim+json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            b_user = json.load(response)["id"]
        results = [run_mode(args, banner, share, b_token, b_user) for share in (50, 100)]
    print(f"bench: tenant A {args.users} users, 32 connections of unindexed filters; pool {args.pool}; "
          f"{args.seconds} s per row, one run")
    print(f"{'tenant share':<14} {'A req/s':>8} {'A 429s':>7} {'B p50 ms':>9} {'B p99 ms':>9} {'B max ms':>9} {'B GETs':>7}")
    for r in results:
        label = f"{r['share']} %" if r["share"] < 100 else "none (100 %)"
        print(f"{label:<14} {r['a_rate']:>8.1f} {r['a_refused']:>7} {r['b_p50']:>9.1f} {r['b_p99']:>9.1f} {r['b_max']:>9.1f} {r['b_count']:>7}")
    on, off = results
    print(f"B's p50 without a share / with it = {off['b_p50'] / on['b_p50']:.1f}x")
    return 0 if all(r["b_failures"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
