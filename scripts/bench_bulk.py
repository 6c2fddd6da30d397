#!/usr/bin/env python3
"""Provisioning through /Bulk: 100 000 users, then one group holding them all; seconds and peak RSS.

Usage: python3 scripts/bench_bulk.py [--roster .build/release/roster] [--users 100000] [--clients 2] [--users-only]

Starts `roster dev` (use a release build) on loopback, sends the users as Bulk requests of
maxOperations (1000) POSTs each, from --clients concurrent clients, then one Bulk request whose
single POST creates a group with every user as a member (about 5 MiB). Prints the seconds each
phase took, users per second, and the peak resident memory (VmHWM) of the roster process, which
excludes its PostgreSQL: after the users (the Bulk writes alone) and after the group. Checks the
group's member count with `excludedAttributes`-free GET. `--users-only` stops after the users
(issue 17's target: 100 000 users in <= 10 s, RSS <= 150 MiB). Stops everything it started.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import sys
import time
import urllib.request

from devserver import roster_dev

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def rss_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def post_bulk(base: str, token: str, operations: list[dict]) -> list[dict]:
    body = json.dumps({"schemas": [BULK], "Operations": operations}).encode()
    request = urllib.request.Request(f"{base}/Bulk", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())["Operations"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", default=".build/release/roster")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1000, help="operations per Bulk request (at most 1000)")
    parser.add_argument("--port", type=int, default=18191)
    parser.add_argument("--users-only", action="store_true", help="time the users and stop (no group)")
    parser.add_argument("--pad", type=int, default=0,
                        help="characters of `title` added to each user (16000: a request of 1000 near the 16 MiB maxPayloadSize)")
    args = parser.parse_args()

    with roster_dev(args.roster, args.port) as (proc, banner):
        base, token = banner["base"], banner["token"]
        idle_rss = rss_kib(proc.pid, "VmRSS")

        batches = [[{"method": "POST", "path": "/Users", "bulkId": f"u{i}",
                     "data": {"schemas": [USER], "userName": f"bulk-{i}", "displayName": f"Bulk User {i}",
                              "emails": [{"value": f"bulk-{i}@example.com", "type": "work", "primary": True}],
                              **({"title": "t" * args.pad} if args.pad else {})}}
                    for i in range(start, min(start + args.batch, args.users))]
                   for start in range(0, args.users, args.batch)]
        started = time.monotonic()
        ids: list[str] = []
        failed = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.clients) as pool:
            for results in pool.map(lambda batch: post_bulk(base, token, batch), batches):
                for result in results:
                    if result["status"] == "201":
                        ids.append(result["location"].rsplit("/", 1)[-1])
                    else:
                        failed += 1
        users_seconds = time.monotonic() - started
        users_peak = rss_kib(proc.pid, "VmHWM")

        print(f"bench: /Bulk, {args.batch} operations per request, {args.clients} concurrent clients, one run")
        print(f"users created: {len(ids)} ({failed} failed) in {users_seconds:.1f} s = {len(ids) / users_seconds:.0f} users/s")
        print(f"roster RSS: {idle_rss / 1024:.0f} MiB idle, {users_peak / 1024:.0f} MiB peak after the users "
              "(VmHWM, PostgreSQL not included)")
        if args.users_only:
            return 0 if failed == 0 else 1

        started = time.monotonic()
        group = post_bulk(base, token, [{"method": "POST", "path": "/Groups", "bulkId": "everyone",
                                         "data": {"schemas": [GROUP], "displayName": "Everyone",
                                                  "members": [{"value": i} for i in ids]}}])[0]
        group_seconds = time.monotonic() - started
        if group["status"] != "201":
            print(f"bench: the group was not created: {group}")
            return 1
        request = urllib.request.Request(group["location"], headers={"Authorization": f"Bearer {token}"})
        members = len(json.loads(urllib.request.urlopen(request, timeout=600).read()).get("members", []))
        peak = rss_kib(proc.pid, "VmHWM")

        print(f"group of {len(ids)} members created in one Bulk POST in {group_seconds:.1f} s; GET shows {members} members")
        print(f"roster RSS: {peak / 1024:.0f} MiB peak after the group (VmHWM, PostgreSQL not included)")
        return 0 if failed == 0 and members == len(ids) else 1

if __name__ == "__main__":
    sys.exit(main())
