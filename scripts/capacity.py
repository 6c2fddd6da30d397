#!/usr/bin/env python3
"""Roster's capacity, measured: CPU per SCIM request (Roster and PostgreSQL apart), feed and webhook rates, bytes per row.

Usage: python3 scripts/capacity.py [--roster .build/release/roster] [--users 20000] [--seconds 3] [--rounds 3]
       [--json FILE] [--model-cores 4] [--model-ram-gb 16] [--model-tenant-users 1000] ...

One command, loopback only, a few minutes; it builds nothing (build with `swift build -c release` first) and stops
only the processes it started, by pid, and removes its folders.
1. A throwaway PostgreSQL 15 (bench_peer's Cluster: fsync on, synchronous_commit on) and `roster serve` (rate limits
   off, one tenant allowed the whole pool, loopback webhooks allowed), as bench_peer starts it.
2. Storage: table sizes (pg_total_relation_size: heap, indexes, TOAST) of an empty install, then after seeding known
   counts through SCIM: USERS users with typical Entra ID / Okta attributes (Bulk, 1 000 a request, 2 clients), as
   written and again after VACUUM FULL (compacted: the lower bound), 200 groups of 50 members plus one group holding
   every user (PATCH add, 1 000 members a request); later the write rows' events, the webhook rows' attempts and the
   provisioning log. Each figure is the size's growth divided by the rows the phase added.
3. Throughput: each SCIM operation an identity provider uses, driven by wrk (-t2 -c32) for ROUNDS runs of SECONDS.
   Around each run it reads the CPU time (utime + stime, /proc) of the roster process and of every process of the
   cluster (the postmaster, its backends and background workers, and the children it reaped), less the idle rate
   measured first, and after the server finished what wrk left in flight divides by the requests it served (its
   roster_http_requests_total counter): CPU microseconds per request of each. A core's worth of that CPU serves 1 / (CPU s per request): requests per second per core, which a shared, busy machine blurs far less
   than wall-clock req/s (printed too, with the cores both used). The row's figure is the median of its rounds.
4. The change feed: events recorded per second under a write mix, pages per second of GET /api/v1/events (limit 100),
   and webhook delivery from a backlog to a loopback receiver answering 204, with one and with four subscriptions.
5. Prints markdown tables (every figure, bytes per row, the model derived for --model-* parameters) and, with --json,
   writes them to FILE. Exits 1 when a row had non-2xx answers (it is still shown, marked).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench_peer import (GROUP, PATCH_OP, USER, Client, Cluster, check, lua_list, patch_members, roster_server, say, wrk)
from bench_webhooks import Receiver

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
DOMAIN = "contoso.example"
TEAMS, TEAM_SIZE, CHUNK = 200, 50, 1000
CLK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------- what an IdP sends

def user_body(name: str, tag: str = "1") -> dict:
    """A user as Entra ID or Okta provisions one: UPN userName, name, work email and phones, address, enterprise fields."""
    return {
        "schemas": [USER, ENTERPRISE],
        "userName": f"{name}@{DOMAIN}", "externalId": f"{name}-ext", "active": True,
        "displayName": f"Given {name}", "name": {"givenName": "Given", "familyName": name, "formatted": f"Given {name}"},
        "title": f"Engineer {tag}", "preferredLanguage": "en-US", "locale": "en-US",
        "emails": [{"value": f"{name}@{DOMAIN}", "type": "work", "primary": True}],
        "phoneNumbers": [{"value": "+1 425 555 0100", "type": "work"}, {"value": "+1 425 555 0199", "type": "mobile"}],
        "addresses": [{"type": "work", "streetAddress": "1 Main Street", "locality": "Redmond", "region": "WA",
                       "postalCode": "98052", "country": "US", "primary": True}],
        ENTERPRISE: {"employeeNumber": f"E-{name}", "department": f"Department {tag}", "costCenter": "CC-4100",
                     "organization": "Contoso", "division": "Research"},
    }


def lua_template(body: dict) -> str:
    """BODY as a Lua long string; `@NAME@` and `@TAG@` are filled per request with gsub."""
    return "[==[" + json.dumps(body, separators=(",", ":")) + "]==]"


USER_TEMPLATE = lua_template(user_body("@NAME@", "@TAG@"))

# Each op is a Lua function of k (the thread's k-th call; thread `tid` of 2) returning one request; `request`
# calls one op, or cycles through several (the write mix).
LUA_OPS = f"""
local user_template = {USER_TEMPLATE}
local function fill(template, name, tag)
  return (template:gsub("@NAME@", name):gsub("@TAG@", tag))
end
local function pick(list, k) return list[(k * 2 + tid) % #list + 1] end
local function get_user(k) return wrk.format("GET", base .. "/Users/" .. pick(ids, k), headers) end
local function filter_user(k)
  local i = (k * 7919 + tid * 5003) % users + 1
  return wrk.format("GET", base .. "/Users?filter=userName%20eq%20%22user-" .. i .. "%40{DOMAIN}%22", headers)
end
local function list_users(k) return wrk.format("GET", base .. "/Users?count=100", headers) end
local function filter_group(k)
  return wrk.format("GET", base .. "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22team-" .. (k * 2 + tid) % {TEAMS} .. "%22", headers)
end
local function post_user(k)
  return wrk.format("POST", base .. "/Users", headers, fill(user_template, tag .. "-" .. tid .. "-" .. k, tag))
end
local function put_user(k)
  local i = (k * 2 + tid) % #ids + 1
  return wrk.format("PUT", base .. "/Users/" .. ids[i], headers, fill(user_template, names[i], tag .. "-" .. k))
end
local function patch_active(k)
  local value = "False"
  if (math.floor((k * 2 + tid) / #ids) + round) % 2 == 1 then value = "True" end
  return wrk.format("PATCH", base .. "/Users/" .. pick(ids, k), headers,
    '{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"Replace","path":"active","value":"' .. value .. '"}}]}}')
end
local function patch_attributes(k)
  return wrk.format("PATCH", base .. "/Users/" .. pick(ids, k), headers,
    '{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"Replace","path":"title","value":"Title ' .. tag .. k ..
    '"}},{{"op":"Replace","path":"{ENTERPRISE}:department","value":"Dept ' .. tag .. k .. '"}}]}}')
end
local function delete_user(k) return wrk.format("DELETE", base .. "/Users/" .. pick(doomed, k), headers) end
local function post_group(k)
  local name = "g-" .. tag .. "-" .. tid .. "-" .. k
  return wrk.format("POST", base .. "/Groups", headers,
    '{{"schemas":["{GROUP}"],"displayName":"' .. name .. '","externalId":"' .. name .. '-ext"}}')
end
local function patch_member(k)
  local group = groups[k % #groups + 1]
  local op = "add"
  if math.floor(k / #groups) % 2 == 1 then op = "remove" end
  return wrk.format("PATCH", base .. "/Groups/" .. group, headers,
    '{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"' .. op .. '","path":"members","value":[{{"value":"' ..
    spares[tid % #spares + 1] .. '"}}]}}]}}')
end
local function bulk_users(k)
  local ops = {{}}
  for j = 1, bulk_size do
    ops[j] = '{{"method":"POST","path":"/Users","bulkId":"b' .. j .. '","data":' ..
      fill(user_template, tag .. "-" .. tid .. "-" .. k .. "-" .. j, tag) .. '}}'
  end
  return wrk.format("POST", base .. "/Bulk", headers,
    '{{"schemas":["{BULK}"],"Operations":[' .. table.concat(ops, ",") .. ']}}')
end
local function read_feed(k)
  if k == 1 then math.randomseed(tid + 1) end
  return wrk.format("GET", "/api/v1/events?limit=" .. page .. "&after=" .. math.random(0, math.max(0, last_seq - page)), headers)
end
"""


# ---------------------------------------------------------------------------------------------- CPU from /proc

def proc_cpu(pid: int, children: bool = False) -> float:
    """utime + stime of PID in seconds (with `children`, also the reaped children's cutime + cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / CLK


def cluster_cpu(postmaster: int) -> float:
    """CPU seconds of a PostgreSQL cluster so far: the postmaster, its live children, and those it already reaped."""
    total = proc_cpu(postmaster, children=True)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                total += proc_cpu(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile: its time is in the postmaster's cutime now (or was not ours)
    return total


class Meter:
    """CPU seconds of roster and of the cluster over a span, less what both burn idle in that time."""

    def __init__(self, roster: int, postmaster: int) -> None:
        self.roster, self.postmaster = roster, postmaster
        self.idle = (0.0, 0.0)

    def read(self) -> tuple[float, float, float]:
        return time.monotonic(), proc_cpu(self.roster), cluster_cpu(self.postmaster)

    def calibrate(self, seconds: float) -> None:
        start = self.read()
        time.sleep(seconds)
        end = self.read()
        wall = end[0] - start[0]
        self.idle = ((end[1] - start[1]) / wall, (end[2] - start[2]) / wall)

    def settle(self, limit: float = 15.0) -> None:
        """Waits until roster and PostgreSQL are about idle again: requests wrk left behind are finished (and counted)."""
        previous, deadline = self.read(), time.monotonic() + limit
        while time.monotonic() < deadline:
            time.sleep(0.2)
            current = self.read()
            if (current[1] - previous[1] + current[2] - previous[2]) / (current[0] - previous[0]) < 0.15 + sum(self.idle):
                return
            previous = current

    def span(self, start: tuple[float, float, float], end: tuple[float, float, float]) -> tuple[float, float, float]:
        """(wall seconds, roster CPU s, PostgreSQL CPU s) between two readings, idle burn taken off."""
        wall = end[0] - start[0]
        return wall, max(0.0, end[1] - start[1] - self.idle[0] * wall), max(0.0, end[2] - start[2] - self.idle[1] * wall)


# ---------------------------------------------------------------------------------------------- the bench

class Row:
    """One measured figure: a wall-clock rate, CPU per unit of Roster and of PostgreSQL, events per unit, errors."""

    def __init__(self, name: str, unit: str, rate: float, roster_us: float, pg_us: float, events: float = 0.0,
                 errors: int = 0, cores: float = 0.0, spread: str = "", note: str = "") -> None:
        self.name, self.unit, self.rate, self.roster_us, self.pg_us = name, unit, rate, roster_us, pg_us
        self.events, self.errors, self.cores, self.spread, self.note = events, errors, cores, spread, note

    def per_core(self, micros: float) -> float:
        return 1e6 / micros if micros > 0 else float("inf")

    @property
    def limiter(self) -> str:
        return "PostgreSQL" if self.pg_us >= self.roster_us else "Roster"

    def as_json(self) -> dict:
        return {"unit": self.unit, "wall_rate": self.rate, "roster_cpu_us": self.roster_us, "postgres_cpu_us": self.pg_us,
                "roster_per_core": self.per_core(self.roster_us), "postgres_per_core": self.per_core(self.pg_us),
                "both_per_core": self.per_core(self.roster_us + self.pg_us), "events_per_unit": self.events,
                "limiter": self.limiter, "non_2xx": self.errors, "cores_used": self.cores, "rounds": self.spread,
                "note": self.note or None}


class Bench:
    def __init__(self, args: argparse.Namespace, cluster: Cluster, proc: subprocess.Popen, port: int, token: str,
                 folder: Path) -> None:
        self.args, self.cluster, self.port, self.token, self.folder = args, cluster, port, token, folder
        self.meter = Meter(proc.pid, cluster.proc.pid)
        self.client = Client(port, token)
        self.admin = Client(port, args.admin_key)
        self.admin.headers["Content-Type"] = "application/json"
        self.rows: list[Row] = []
        self.sizes: dict[str, dict] = {}
        self.facts: dict[str, object] = {}
        self.failed: list[str] = []

    def sql(self, *statements: str) -> str:
        try:
            return self.cluster.psql("roster", *statements)
        except subprocess.CalledProcessError as error:
            raise RuntimeError(f"psql failed: {error.stderr.strip()}") from None

    def table_sizes(self) -> dict[str, int]:
        rows = self.sql("SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                        "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")
        return {name: int(size) for name, size in (line.split("|") for line in rows.splitlines())}

    def served(self) -> int:
        """Requests roster has answered so far, /metrics scrapes left out (roster_http_requests_total)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/metrics", headers={"X-Admin-API-Key": self.args.admin_key})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
                   if line.startswith("roster_http_requests_total{") and 'route="/metrics"' not in line)

    def count(self, table: str) -> int:
        return int(self.sql(f"SELECT count(*) FROM {table}"))

    # ------------------------------------------------------------------ storage
    def per_row(self, key: str, tables: list[str], before: dict[str, int], rows: int, note: str) -> None:
        after = self.table_sizes()
        grown = sum(after[t] - before.get(t, 0) for t in tables)
        self.sizes[key] = {"bytes": grown / rows if rows else 0.0, "rows": rows, "tables": tables, "note": note}
        say(f"  {key}: {grown / max(rows, 1):,.0f} bytes each ({rows} rows, {', '.join(tables)})")

    def bulk_users(self, prefix: str, start: int, count: int) -> float:
        """COUNT users named PREFIX-<n> through Bulk (CHUNK a request, 2 clients); returns the seconds it took."""
        local = threading.local()

        def send(first: int) -> None:
            if not hasattr(local, "client"):
                local.client = Client(self.port, self.token)
            ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": user_body(f"{prefix}-{i}")}
                   for i in range(first, min(first + CHUNK, start + count))]
            answer = local.client.ok("POST", "/scim/v2/Bulk", {"schemas": [BULK], "Operations": ops})
            bad = [op for op in answer["Operations"] if not str(op.get("status", "")).startswith("2")]
            if bad:
                raise RuntimeError(f"Bulk seeding: {len(bad)} operations failed, e.g. {json.dumps(bad[0])[:300]}")

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(send, range(start, start + count, CHUNK)))
        return time.monotonic() - started

    def seed(self) -> None:
        users = self.args.users
        empty = self.table_sizes()
        self.facts["empty install bytes"] = sum(empty.values())
        events0, log0 = self.count("events"), self.count("provisioning_log")
        seconds = self.bulk_users("user", 1, users)
        self.facts["seed: users/s through Bulk (1 000 a request, 2 clients)"] = users / seconds
        say(f"seeded {users} users through Bulk in {seconds:.1f} s ({users / seconds:,.0f}/s)")
        time.sleep(1.5)  # the provisioning log is written about once a second
        self.per_row("user (as written)", ["users"], empty, users, "typical Entra ID / Okta attributes, 4 trigram indexes")
        self.per_row("user.created event (as written)", ["events"], empty, self.count("events") - events0,
                     "holds the user's attributes; written twice (insert, then the stamp's update) until vacuumed")
        self.empty, self.log0 = empty, log0
        # The same rows compacted (VACUUM FULL rewrites the table and builds its indexes anew): the lower bound.
        self.sql("VACUUM FULL users, events")
        self.per_row("user (compacted)", ["users"], empty, users, "after VACUUM FULL: no dead space, fresh indexes")
        self.per_row("user.created event (compacted)", ["events"], empty, self.count("events") - events0,
                     "after VACUUM FULL")

        # Groups: TEAMS teams of TEAM_SIZE, one group of every user, one of 10; members added as Entra does (PATCH add).
        before, events0 = self.table_sizes(), self.count("events")
        ids = self.sql("SELECT id FROM users ORDER BY created, id").split()
        made = self.client.ok("POST", "/scim/v2/Bulk", {"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": f"g{k}", "data": {"schemas": [GROUP], "displayName": f"team-{k}",
                                                                            "externalId": f"team-{k}-ext"}}
            for k in range(TEAMS)]})["Operations"]
        self.teams = [op["location"].rsplit("/", 1)[1] for op in made]
        self.large = self.client.ok("POST", "/scim/v2/Groups", {"schemas": [GROUP], "displayName": "all-staff"})["id"]
        self.small = self.client.ok("POST", "/scim/v2/Groups", {"schemas": [GROUP], "displayName": "small-10"})["id"]
        rng = random.Random(7)
        work = [(team, rng.sample(ids, TEAM_SIZE)) for team in self.teams]
        work += [(self.large, ids[i:i + CHUNK]) for i in range(0, len(ids), CHUNK)] + [(self.small, ids[:10])]
        memberships = sum(len(members) for _, members in work)
        local = threading.local()

        def add(item: tuple[str, list[str]]) -> None:
            if not hasattr(local, "client"):
                local.client = Client(self.port, self.token)
            local.client.ok("PATCH", f"/scim/v2/Groups/{item[0]}", patch_members("add", item[1]))

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(add, work))
        self.facts["seed: memberships/s through PATCH add (2 clients)"] = memberships / (time.monotonic() - started)
        groups = TEAMS + 2
        self.per_row("group (without members)", ["groups"], before, groups, "displayName, externalId, 2 trigram indexes")
        self.per_row("membership", ["group_members"], before, memberships, f"{memberships} rows: {TEAMS} x {TEAM_SIZE}, "
                     f"{len(ids)} in one group, 10")
        self.large_size = len(ids)
        added = self.count("events") - events0
        self.per_row("group event (group.created, group.members.added)", ["events"], before, added,
                     f"{groups} created, {added - groups} member additions of 10 to {CHUNK} ids")
        self.sizes["membership in a group.members.added event"] = {
            "bytes": self.sizes["group event (group.created, group.members.added)"]["bytes"] * added / memberships,
            "rows": memberships, "tables": ["events"], "note": "the same growth per member added"}
        self.spares = [self.client.ok("POST", "/scim/v2/Users", user_body(f"spare-{t}"))["id"] for t in range(2)]
        sample = self.sql("SELECT id, split_part(user_name, '@', 1) FROM users WHERE user_name LIKE 'user-%' "
                          "ORDER BY id LIMIT 2000").splitlines()
        self.ids, self.names = [line.split("|")[0] for line in sample], [line.split("|")[1] for line in sample]
        # DELETE needs users to delete: a pool per round, made with SQL (no events), each in two teams.
        per_round = self.args.delete_pool
        self.sql(f"""
            INSERT INTO users (tenant_id, id, user_name, external_id, display_name, active, emails, created, last_modified, body)
            SELECT u.tenant_id, gen_random_uuid(), 'doomed-' || i || '@{DOMAIN}', 'doomed-' || i, 'Doomed ' || i, true,
                   ARRAY['doomed-' || i || '@{DOMAIN}'], now(), now(),
                   jsonb_set(jsonb_set(u.body, '{{userName}}', to_jsonb('doomed-' || i || '@{DOMAIN}')),
                             '{{emails,0,value}}', to_jsonb('doomed-' || i || '@{DOMAIN}'))
            FROM generate_series(1, {per_round * self.args.rounds}) AS i,
                 (SELECT tenant_id, body FROM users WHERE user_name = 'user-1@{DOMAIN}') AS u""",
                 f"""WITH teams AS (SELECT array_agg(id ORDER BY id) AS ids FROM groups WHERE display_name LIKE 'team-%')
            INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
            SELECT u.tenant_id, t.ids[1 + (x * k + c) % {TEAMS}], u.id, 'User'
            FROM (SELECT tenant_id, id, substr(external_id, 8)::int AS x FROM users WHERE user_name LIKE 'doomed-%') u,
                 teams t, (VALUES (1, 0), (7, 3)) AS two (k, c)""")
        doomed = self.sql("SELECT id FROM users WHERE user_name LIKE 'doomed-%' ORDER BY id").split()
        self.doomed = [doomed[r::self.args.rounds] for r in range(self.args.rounds)]
        self.sql("VACUUM ANALYZE", "CHECKPOINT")

    # ------------------------------------------------------------------ throughput
    def lua(self, call: str, round_number: int, **extra: object) -> str:
        values = {"base": '"/scim/v2"', "users": self.args.users, "round": round_number,
                  "tag": f'"r{round_number}-{os.getpid()}-{time.monotonic_ns() % 100000}"', "bulk_size": self.args.bulk_size,
                  "ids": lua_list(self.ids), "names": lua_list(self.names), "spares": lua_list(self.spares),
                  "groups": lua_list([self.small]), "doomed": '{"none"}', "last_seq": 0, "page": 100, **extra}
        head = "".join(f"local {name} = {value}\n" for name, value in values.items())
        return head + LUA_OPS + call

    def measure(self, name: str, call: str, unit: str = "req", per_request: int = 1, token: str | None = None,
                note: str = "", **extra: object) -> Row:
        """ROUNDS wrk runs of CALL; the median of each figure over the rounds."""
        runs = []
        for round_number in range(self.args.rounds):
            args = {key: (value(round_number) if callable(value) else value) for key, value in extra.items()}
            events, before = self.count("events"), self.served()
            start = self.meter.read()
            measured = wrk(self.port, token or self.token, self.lua(call, round_number, **args), self.args.seconds, self.folder)
            self.meter.settle()
            _, roster, pg = self.meter.span(start, self.meter.read())
            events = self.count("events") - events
            # The requests the server finished, wrk's tail included (up to 32 still in flight when wrk stops, whose CPU
            # the settle counted): its own counter, not wrk's.
            served = self.served() - before
            units = served * per_request or 1  # none finished: shown as its error count below
            measured.errors += 0 if served else 1
            runs.append((measured.rate * per_request, roster * 1e6 / units, pg * 1e6 / units, events / units, measured.errors,
                         (roster + pg) / self.args.seconds, measured.socket_errors))
        median = lambda i: statistics.median(run[i] for run in runs)
        errors = sum(run[4] for run in runs)
        spread = ", ".join(f"{run[1] + run[2]:.0f}" for run in runs)
        sockets = "; ".join(run[6] for run in runs if run[6])
        row = Row(name, unit, median(0), median(1), median(2), median(3), errors, median(5), spread,
                  "; ".join(filter(None, [note, f"wrk socket errors: {sockets}" if sockets else ""])))
        self.rows.append(row)
        say(f"  {name}: {row.rate:,.0f} {unit}/s wall, CPU/{unit} roster {row.roster_us:.0f} µs + PostgreSQL {row.pg_us:.0f} µs "
            f"(rounds, total µs: {spread}), {row.events:.2f} events/{unit}" + (f", {errors} non-2xx" if errors else ""))
        if errors:
            self.failed.append(name)
        return row

    def scim_rows(self) -> None:
        base, ids, user = "/scim/v2", self.ids, self.names[0]
        checks = [
            ("GET", f"{base}/Users/{ids[0]}", None),
            ("GET", f"{base}/Users?filter=userName%20eq%20%22{user}%40{DOMAIN}%22", None),
            ("GET", f"{base}/Groups?excludedAttributes=members&filter=displayName%20eq%20%22team-1%22", None),
            ("PATCH", f"{base}/Users/{ids[-1]}", {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
            ("PATCH", f"{base}/Users/{ids[-1]}", {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]}),
            ("PUT", f"{base}/Users/{ids[-1]}", user_body(self.names[-1], "check")),
        ]
        for method, path, body in checks:
            check(self.client, "request", method, path, body)
        say("SCIM operations (wrk -t2 -c32)")
        sizes, events = self.table_sizes(), self.count("events")
        self.measure("GET /Users/{id}", "request = function() n = n + 1; return get_user(n) end")
        self.measure('GET /Users?filter=userName eq "…"', "request = function() n = n + 1; return filter_user(n) end")
        self.measure("GET /Users?count=100", "request = function() n = n + 1; return list_users(n) end")
        self.measure('GET /Groups?filter=displayName eq "…"&excludedAttributes=members',
                     "request = function() n = n + 1; return filter_group(n) end")
        self.measure("POST /Users", "request = function() n = n + 1; return post_user(n) end")
        self.measure("PUT /Users/{id}", "request = function() n = n + 1; return put_user(n) end")
        self.measure("PATCH /Users/{id} replace active", "request = function() n = n + 1; return patch_active(n) end",
                     note="alternately False and True (Entra's form)")
        self.measure("PATCH /Users/{id} replace title, department", "request = function() n = n + 1; return patch_attributes(n) end")
        self.measure("DELETE /Users/{id}", "request = function() n = n + 1; return delete_user(n) end",
                     note="each user in 2 groups", doomed=lambda r: lua_list(self.doomed[r]))
        self.measure("POST /Groups", "request = function() n = n + 1; return post_group(n) end")
        for label, groups in ((f"PATCH /Groups/{{id}} add/remove 1 member, 10-member group", [self.small]),
                              (f"PATCH /Groups/{{id}} add/remove 1 member, {self.large_size}-member group", [self.large]),
                              (f"PATCH /Groups/{{id}} add/remove 1 member, {TEAMS} groups of {TEAM_SIZE}", self.teams)):
            check(self.client, "PATCH add", "PATCH", f"{base}/Groups/{groups[0]}", patch_members("add", [self.spares[0]]))
            check(self.client, "PATCH remove", "PATCH", f"{base}/Groups/{groups[0]}", patch_members("remove", [self.spares[0]]))
            self.measure(label, "request = function() n = n + 1; return patch_member(n) end", groups=lua_list(groups))
        size = self.args.bulk_size
        self.measure(f"POST /Bulk, {size} user POSTs a request (per operation)", "request = function() n = n + 1; return bulk_users(n) end",
                     unit="op", per_request=size)
        self.per_row("event of the rows above (as written)", ["events"], sizes, self.count("events") - events,
                     "every type the rows wrote: created users and groups, updates, deactivations, deletions, member changes")

    def feed_rows(self) -> None:
        say("change feed")
        ops = "{post_user, patch_active, patch_attributes, patch_member}"
        peak, done = [0], threading.Event()

        def sample() -> None:  # the most connections roster held at once while the mix ran
            while not done.wait(0.5):
                peak[0] = max(peak[0], int(self.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'roster-%'")))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        mix = self.measure("write mix: POST, PATCH active, PATCH attributes, member PATCH (per request)",
                           f"local ops = {ops}\nrequest = function() n = n + 1; return ops[n % 4 + 1](math.floor(n / 4)) end",
                           groups=lua_list(self.teams))
        done.set()
        sampler.join()
        self.facts["PostgreSQL connections of one roster serve, most at once under the write mix (pool and LISTEN)"] = peak[0]
        self.facts["feed: events recorded per second under the write mix (wall)"] = mix.rate * mix.events
        self.sql("VACUUM ANALYZE events")
        last = int(self.sql("SELECT max(seq) FROM events"))
        check(self.admin, "feed page", "GET", "/api/v1/events?limit=100&after=0")
        self.measure("GET /api/v1/events?limit=1 (a page of 1 event)", "request = function() n = n + 1; return read_feed(n) end",
                     unit="page", token=self.args.admin_key, last_seq=last, page=1)
        self.measure("GET /api/v1/events?limit=100 (a page of 100 events)", "request = function() n = n + 1; return read_feed(n) end",
                     unit="page", token=self.args.admin_key, last_seq=last, note=f"random positions in {last} events")

    def webhooks(self, receiver: Receiver) -> None:
        """Backlogs of BACKLOG events delivered to 1 and to 4 subscriptions (deliveries held until the backlog exists)."""
        say("webhook delivery from a backlog")
        backlog = self.args.backlog
        for count in (1, 4):
            subs = [self.admin.ok("POST", "/api/v1/webhooks", {"url": f"http://127.0.0.1:{receiver.port}/n{count}-{i}"})["id"]
                    for i in range(count)]
            for sub in subs:
                self.admin.ok("PATCH", f"/api/v1/webhooks/{sub}", {"enabled": False})
            self.bulk_users(f"hook{count}", 1, backlog)
            attempts, sizes = self.count("webhook_deliveries"), self.table_sizes()
            received = receiver.count()
            time.sleep(2.5)  # every event stamped (the poll) before the clock starts
            start = self.meter.read()
            for sub in subs:
                self.admin.ok("PATCH", f"/api/v1/webhooks/{sub}", {"enabled": True})
            deadline = time.monotonic() + self.args.timeout
            while receiver.count() - received < backlog * count and time.monotonic() < deadline:
                time.sleep(0.02)
            wall, roster, pg = self.meter.span(start, self.meter.read())
            got = receiver.count() - received
            missing = backlog * count - got
            self.rows.append(Row(f"webhook delivery, {count} subscription{'s' if count > 1 else ''} (per event delivered)",
                                 "event", got / wall, roster * 1e6 / got, pg * 1e6 / got, errors=max(0, missing),
                                 cores=(roster + pg) / wall, note=f"{got} of {backlog * count} in {wall:.1f} s"))
            say(f"  {count} subscription(s): {got} events in {wall:.1f} s = {got / wall:,.0f}/s; CPU/event roster "
                f"{roster * 1e6 / got:.0f} µs, PostgreSQL {pg * 1e6 / got:.0f} µs" + (f"; {missing} missing" if missing else ""))
            if missing:
                self.failed.append(f"webhooks x{count}")
            time.sleep(1)
            self.per_row(f"webhook delivery attempt ({count} subscription{'s' if count > 1 else ''})", ["webhook_deliveries"],
                         sizes, self.count("webhook_deliveries") - attempts, "one row per attempt, with the subscription's position moved")
            for sub in subs:
                self.admin.call("DELETE", f"/api/v1/webhooks/{sub}")

    def provisioning_log(self) -> None:
        time.sleep(1.5)  # written about once a second
        self.per_row("provisioning-log entry", ["provisioning_log"], self.empty, self.count("provisioning_log") - self.log0,
                     "one per SCIM request (a Bulk request is one); at most ROSTER_PROVISIONING_LOG_MAX_ROWS (10 000) per tenant, 7 days")

    def connections(self) -> None:
        rows = self.sql("SELECT coalesce(nullif(application_name, ''), '(none)'), count(*) FROM pg_stat_activity "
                        "WHERE datname = 'roster' AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 1")
        self.facts["PostgreSQL connections of one roster serve when idle again, by application_name"] = rows.replace("\n", "; ")


# ---------------------------------------------------------------------------------------------- report and model

def fmt(value: float) -> str:
    if value == float("inf"):
        return "∞"
    return f"{value:,.0f}".replace(",", " ") if abs(value) >= 100 else f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def table(bench: Bench) -> list[str]:
    lines = ["| operation | wall /s | Roster CPU µs | PostgreSQL CPU µs | per core: Roster | per core: PostgreSQL | "
             "per core: both | limits | events each | cores used | rounds (µs) |", "|---|" + "---:|" * 9 + "---|"]
    for row in bench.rows:
        mark = f" **{row.errors} non-2xx or missing**" if row.errors else ""
        lines.append(f"| {row.name}{mark} | {fmt(row.rate)} | {fmt(row.roster_us)} | {fmt(row.pg_us)} | "
                     f"{fmt(row.per_core(row.roster_us))} | {fmt(row.per_core(row.pg_us))} | "
                     f"{fmt(row.per_core(row.roster_us + row.pg_us))} | {row.limiter} | {row.events:.2f} | {row.cores:.2f} | {row.spread} |")
    lines += ["", "| stored | bytes each | rows measured | tables (heap + indexes + TOAST) | note |", "|---|---:|---:|---|---|"]
    lines += [f"| {key} | {fmt(v['bytes'])} | {v['rows']} | {', '.join(v['tables'])} | {v['note']} |" for key, v in bench.sizes.items()]
    lines += ["", "| fact | value |", "|---|---|"]
    lines += [f"| {key} | {fmt(value) if isinstance(value, float) else value} |" for key, value in bench.facts.items()]
    return lines


def model(rows: dict[str, dict], sizes: dict[str, dict], a: argparse.Namespace) -> tuple[list[str], dict]:
    """The capacity model for the --model-* workload from measured ROWS (CPU µs) and SIZES (bytes); every step shown."""
    def cpu(prefix: str) -> tuple[float, float]:
        row = next(value for name, value in rows.items() if name.startswith(prefix))
        return row["roster_cpu_us"] / 1e6, row["postgres_cpu_us"] / 1e6

    size = lambda key: sizes[key]["bytes"]
    plus = lambda *terms: tuple(sum(t[i] * k for k, t in terms) for i in (0, 1))
    u, m, s, days = a.model_tenant_users, a.model_memberships_per_user, a.model_subscriptions, a.retention_days
    g = max(1, round(u * a.model_groups_per_1000 / 1000))
    cores, util = a.model_cores, a.model_utilisation
    budget = cores * util  # PostgreSQL CPU seconds per second to plan on
    filter_user, post_user = cpu("GET /Users?filter"), cpu("POST /Users")
    filter_group, post_group = cpu("GET /Groups?filter"), cpu("POST /Groups")
    member, change = cpu(f"PATCH /Groups/{{id}} add/remove 1 member, {TEAMS} groups"), cpu("PATCH /Users/{id} replace title")
    delivery = cpu("webhook delivery, 1 subscription")
    # Initial sync as Entra ID runs it: per user a filter then a POST; per group a filter and a POST; one PATCH per
    # membership (Entra batches member adds, so this overstates); every event delivered to each subscription.
    sync = plus((u, filter_user), (u, post_user), (g, filter_group), (g, post_group), (u * m, member),
                (u * s, delivery), (g * s, delivery), (u * m * s, delivery))
    per_user = (sync[0] / u, sync[1] / u)
    # A change: the IdP looks the user up by userName, then PATCHes it; one event, delivered to each subscription.
    one_change = plus((1, filter_user), (1, change), (s, delivery))
    changes = u * a.model_daily_change
    event = size("event of the rows above (as written)")
    store = {
        "users": u * size("user (as written)"), "groups": g * size("group (without members)"),
        "memberships": u * m * size("membership"),
        f"events, {days} days of changes": changes * days * event,
        f"delivery attempts, {days} days": changes * days * s * size("webhook delivery attempt (1 subscription)"),
        "provisioning log, 7 days (at most 10 000)": min(10_000, 2 * changes * 7) * size("provisioning-log entry"),
    }
    directory = store["users"] + store["groups"] + store["memberships"]
    steady = sum(store.values())
    first_month = (u * size("user.created event (as written)") + u * m * size("membership in a group.members.added event")
                   + u * m * s * size("webhook delivery attempt (1 subscription)"))
    ram, disk = a.model_ram_gb * 1e9, a.model_disk_gb * 1e9
    mib = lambda b: f"{b / 2**20:,.1f} MiB" if b < 2**30 else f"{b / 2**30:,.2f} GiB"
    ms = lambda x: f"{x * 1e3:.3f} ms"
    tenants_ram, tenants_disk = ram / 2 / directory, disk * 0.8 / steady
    sync_rate = budget / per_user[1]
    change_rate = budget / one_change[1]
    lines = [
        f"Tenant: {u} users, {g} groups, {m} memberships a user, {a.model_daily_change:.0%} of users changed a day, {s} "
        f"webhook subscription(s), events kept {days} days. Primary: {cores} cores planned at {util:.0%} "
        f"({budget:.1f} CPU s/s), {a.model_ram_gb} GB RAM, {a.model_disk_gb} GB disk.", "",
        "| model figure | arithmetic | Roster | PostgreSQL |", "|---|---|---:|---:|",
        f"| CPU per user of an initial sync | (U·(filter + POST) + G·(filter + POST) + U·m·member PATCH + (U + G + U·m)·s·delivery) / U "
        f"| {ms(per_user[0])} | {ms(per_user[1])} |",
        f"| CPU of one tenant's initial sync | U × the above | {sync[0]:.1f} s | {sync[1]:.1f} s |",
        f"| CPU per change | filter + PATCH + s·delivery | {ms(one_change[0])} | {ms(one_change[1])} |",
        f"| CPU of one tenant's day of changes | {changes:g} changes × the above | {changes * one_change[0]:.2f} s | "
        f"{changes * one_change[1]:.2f} s |",
        "", "| what one primary serves | arithmetic | value |", "|---|---|---:|",
        f"| users synced per second (initial syncs) | {budget:.1f} / {ms(per_user[1])} | {sync_rate:,.0f} |",
        f"| Roster cores to keep up with that | × {ms(per_user[0])} Roster CPU per user | {sync_rate * per_user[0]:.1f} |",
        f"| tenants of {u} users synced per hour | 3600 × {sync_rate:,.0f} / {u} | {3600 * sync_rate / u:,.0f} |",
        f"| user changes per second | {budget:.1f} / {ms(one_change[1])} | {change_rate:,.0f} |",
        f"| tenants whose daily changes it absorbs | 86400 × {change_rate:,.0f} / {changes:g} | {86400 * change_rate / changes:,.0f} |",
        "", "| storage per tenant | arithmetic | bytes |", "|---|---|---:|",
        *[f"| {key} | | {mib(value)} |" for key, value in store.items()],
        f"| **steady state** | sum | **{mib(steady)}** |",
        f"| for the first {days} days, add the initial sync's events and attempts | U·user.created + U·m·member + U·m·s·attempt "
        f"| {mib(first_month)} |",
        f"| tenants whose directory fits in half the RAM | {a.model_ram_gb} GB / 2 / {mib(directory)} | {tenants_ram:,.0f} |",
        f"| tenants on the disk at 80 % | {a.model_disk_gb} GB × 0.8 / {mib(steady)} | {tenants_disk:,.0f} |",
        f"| users on one primary (directory in half the RAM) | {tenants_ram:,.0f} × {u} | {tenants_ram * u:,.0f} |",
    ]
    return lines, {"tenant": {"users": u, "groups": g, "memberships_per_user": m, "daily_changes": changes, "subscriptions": s},
                   "cpu_per_user_sync_s": per_user, "cpu_per_change_s": one_change, "sync_users_per_s": sync_rate,
                   "changes_per_s": change_rate, "storage_bytes": store, "steady_bytes": steady, "first_month_extra_bytes": first_month,
                   "tenants_by_ram": tenants_ram, "tenants_by_disk": tenants_disk}


# ---------------------------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", default=".build/release/roster")
    parser.add_argument("--users", type=int, default=20_000, help="users seeded through Bulk")
    parser.add_argument("--seconds", type=int, default=3, help="seconds of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per row; each figure is their median")
    parser.add_argument("--bulk-size", type=int, default=100, help="user POSTs per Bulk request in the Bulk row")
    parser.add_argument("--delete-pool", type=int, default=15_000, help="users made for DELETE, per round")
    parser.add_argument("--backlog", type=int, default=2000, help="events per subscription in the webhook rows")
    parser.add_argument("--timeout", type=int, default=90, help="seconds a webhook backlog may take")
    parser.add_argument("--json", help="also write every figure and the model to this file")
    parser.add_argument("--retention-days", type=int, default=30, help="ROSTER_EVENT_RETENTION_DAYS of the model")
    parser.add_argument("--model-cores", type=int, default=4, help="cores of the modelled PostgreSQL primary")
    parser.add_argument("--model-ram-gb", type=int, default=16, help="RAM of the modelled primary")
    parser.add_argument("--model-disk-gb", type=int, default=500, help="disk of the modelled primary")
    parser.add_argument("--model-only", metavar="FILE", help="measure nothing: print the model from an earlier --json FILE")
    parser.add_argument("--model-utilisation", type=float, default=0.7, help="share of the primary's CPU to plan for")
    parser.add_argument("--model-tenant-users", type=int, default=1000)
    parser.add_argument("--model-groups-per-1000", type=float, default=50, help="groups per 1 000 users")
    parser.add_argument("--model-memberships-per-user", type=int, default=5)
    parser.add_argument("--model-daily-change", type=float, default=0.02, help="share of a tenant's users changed a day")
    parser.add_argument("--model-subscriptions", type=int, default=1, help="webhook subscriptions per tenant (all event types)")
    args = parser.parse_args()
    if args.model_only:
        earlier = json.loads(Path(args.model_only).read_text())
        print("\n".join(model(earlier["rows"], earlier["bytes"], args)[0]))
        return 0
    for tool in ("wrk", "psql", "pg_isready"):
        if shutil.which(tool) is None:
            say(f"{tool} is needed (apt-get install wrk postgresql-client; scripts/setup.sh installs PostgreSQL)")
            return 1
    if not os.access(args.roster, os.X_OK):
        say(f"no roster binary at {args.roster}: build it first with `swift build -c release` (this script builds nothing)")
        return 1
    args.roster = os.path.abspath(args.roster)
    args.admin_key = "cap_" + os.urandom(24).hex()
    load = [os.getloadavg()[0]]
    # roster_server (bench_peer) passes this process's environment on to `roster serve`.
    os.environ.update(ROSTER_ADMIN_KEY=args.admin_key, ROSTER_WEBHOOK_ALLOW_PRIVATE_URLS="true",
                      ROSTER_TENANT_POOL_SHARE_PERCENT="100", ROSTER_EVENT_RETENTION_DAYS=str(args.retention_days),
                      ROSTER_PROVISIONING_LOG_MAX_ROWS="1000000")  # no pruning mid-run: bytes per entry are counted at the end
    started = time.monotonic()
    receiver = Receiver()
    receiver.start()
    folder = Path(tempfile.mkdtemp(prefix="roster-capacity-"))
    try:
        with Cluster() as cluster, roster_server(args.roster, cluster, folder) as (proc, port, token):
            say(f"PostgreSQL on 127.0.0.1:{cluster.port} (fsync on), roster serve on 127.0.0.1:{port} (pid {proc.pid})")
            bench = Bench(args, cluster, proc, port, token, folder)
            bench.seed()
            bench.meter.calibrate(3)
            bench.facts["idle CPU burn subtracted, roster / PostgreSQL (CPU s per s)"] = "%.4f / %.4f" % bench.meter.idle
            bench.scim_rows()
            load.append(os.getloadavg()[0])
            bench.feed_rows()
            bench.webhooks(receiver)
            bench.provisioning_log()
            bench.connections()
        load.append(os.getloadavg()[0])
        heading = (f"capacity.py: {args.users} users seeded, wrk -t2 -c32, {args.rounds} x {args.seconds} s "
                   f"per row (median); roster serve (release) and PostgreSQL 15 (fsync on) on {os.cpu_count()} cores shared with "
                   f"wrk and other work; load average {' / '.join(f'{x:.1f}' for x in load)} (start / mid / end); "
                   f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {time.monotonic() - started:.0f} s")
        lines = [heading, "", *table(bench), ""]
        model_lines, model_json = model({row.name: row.as_json() for row in bench.rows}, bench.sizes, args)
        lines += model_lines
        print("\n" + "\n".join(lines), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({
                "heading": heading, "rows": {row.name: row.as_json() for row in bench.rows}, "bytes": bench.sizes,
                "facts": bench.facts, "model": model_json, "load_average": load}, indent=2, default=str) + "\n")
        if bench.failed:
            say("non-2xx answers or missing deliveries in: " + "; ".join(bench.failed))
        return 1 if bench.failed else 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
