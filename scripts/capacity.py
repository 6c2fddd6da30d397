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
   measured first, and divides by the requests completed: CPU microseconds per request of each. A core's worth of
   that CPU serves 1 / (CPU s per request): requests per second per core, which a shared, busy machine blurs far less
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
  return wrk.format("GET", "/api/v1/events?limit=100&after=" .. math.random(0, math.max(0, last_seq - 100)), headers)
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
                  "groups": lua_list([self.small]), "doomed": '{"none"}', "last_seq": 0, **extra}
        head = "".join(f"local {name} = {value}\n" for name, value in values.items())
        return head + LUA_OPS + call

    def measure(self, name: str, call: str, unit: str = "req", per_request: int = 1, token: str | None = None,
                note: str = "", **extra: object) -> Row:
        """ROUNDS wrk runs of CALL; the median of each figure over the rounds."""
        runs = []
        for round_number in range(self.args.rounds):
            args = {key: (value(round_number) if callable(value) else value) for key, value in extra.items()}
            events = self.count("events")
            start = self.meter.read()
            measured = wrk(self.port, token or self.token, self.lua(call, round_number, **args), self.args.seconds, self.folder)
            wall, roster, pg = self.meter.span(start, self.meter.read())
            events = self.count("events") - events
            units = measured.requests * per_request or 1  # none completed: shown as its error count below
            measured.errors += 0 if measured.requests else 1
            runs.append((units / wall, roster * 1e6 / units, pg * 1e6 / units, events / units, measured.errors,
                         (roster + pg) / wall, measured.socket_errors))
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
        mix = self.measure("write mix: POST, PATCH active, PATCH attributes, member PATCH (per request)",
                           f"local ops = {ops}\nrequest = function() n = n + 1; return ops[n % 4 + 1](math.floor(n / 4)) end",
                           groups=lua_list(self.teams))
        self.facts["feed: events recorded per second under the write mix (wall)"] = mix.rate * mix.events
        self.sql("VACUUM ANALYZE events")
        last = int(self.sql("SELECT max(seq) FROM events"))
        check(self.admin, "feed page", "GET", "/api/v1/events?limit=100&after=0")
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
        self.facts["PostgreSQL connections of one roster serve after the load"] = rows.replace("\n", "; ")


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


def find(bench: Bench, prefix: str) -> Row:
    return next(row for row in bench.rows if row.name.startswith(prefix))


def model(bench: Bench, a: argparse.Namespace) -> tuple[list[str], dict]:
    """The capacity model from the measured rows, for the --model-* workload; every step printed."""
    size = lambda key: bench.sizes[key]["bytes"]
    cost = lambda row: (row.roster_us, row.pg_us)
    filter_user, post_user = cost(find(bench, "GET /Users?filter")), cost(find(bench, "POST /Users"))
    filter_group, post_group = cost(find(bench, "GET /Groups?filter")), cost(find(bench, "POST /Groups"))
    member = cost(find(bench, f"PATCH /Groups/{{id}} add/remove 1 member, {TEAMS}"))
    change = cost(find(bench, "PATCH /Users/{id} replace title"))
    delivery = cost(find(bench, "webhook delivery, 1 subscription"))
    users, per_user = a.model_tenant_users, a.model_memberships_per_user
    groups = max(1, round(users * a.model_groups_per_1000 / 1000))
    budget = a.model_cores * a.model_utilisation  # CPU seconds per second the primary gives
    # Initial sync as Entra ID runs it: per user a filter then a POST; per group a filter, a POST, and one PATCH per
    # member added (the costliest case: Entra batches member adds; a PATCH of 1 member is the measured row).
    sync = [users * (filter_user[i] + post_user[i]) + groups * (filter_group[i] + post_group[i]) + users * per_user * member[i]
            + users * (1 + per_user) * a.model_subscriptions * delivery[i] for i in (0, 1)]
    sync_s = [s / 1e6 for s in sync]
    changes = users * a.model_daily_change
    daily = [changes * (filter_user[i] + change[i] + a.model_subscriptions * delivery[i]) / 1e6 for i in (0, 1)]
    events_day = changes * 1.0
    tenant_bytes = {
        "users": users * size("user (as written)"),
        "groups": groups * size("group (without members)"),
        "memberships": users * per_user * size("membership"),
        "events at retention": events_day * a.retention_days * size("user.created event (as written)"),
        "delivery attempts at retention": events_day * a.retention_days * a.model_subscriptions
        * size("webhook delivery attempt (1 subscription)"),
        "provisioning log (cap 10 000)": min(10_000, 2 * changes * 7) * size("provisioning-log entry"),
    }
    total = sum(tenant_bytes.values())
    initial = {
        "users": users * size("user (as written)"), "groups": groups * size("group (without members)"),
        "memberships": users * per_user * size("membership"),
        "initial-sync events (kept for the retention)": users * size("user.created event (as written)")
        + users * per_user * size("membership in a group.members.added event"),
    }
    ram = a.model_ram_gb * 2**30
    hot = initial["users"] + initial["groups"] + initial["memberships"]
    gib = lambda b: f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.1f} MiB"
    lines = [f"Model for a tenant of {users} users, {groups} groups, {per_user} memberships per user, "
             f"{a.model_daily_change:.0%} of users changed a day, {a.model_subscriptions} webhook subscription(s), "
             f"{a.retention_days}-day event retention; a primary of {a.model_cores} cores at {a.model_utilisation:.0%} and "
             f"{a.model_ram_gb} GB RAM.", "",
             "| model figure | arithmetic | value |", "|---|---|---:|",
             f"| initial sync CPU, Roster | U(filter+POST) + G(filter+POST group) + U·m·member PATCH + U(1+m)·s·delivery | {sync_s[0]:.1f} s |",
             f"| initial sync CPU, PostgreSQL | same terms, PostgreSQL's µs | {sync_s[1]:.1f} s |",
             f"| initial syncs a primary absorbs per hour | 3600 · {budget:.1f} cores / {sync_s[1]:.1f} s | {3600 * budget / sync_s[1]:,.0f} |",
             f"| users per second in an initial sync, one primary | {budget:.1f} / (PostgreSQL s per user {sync_s[1] / users * 1e3:.2f} ms) | "
             f"{budget * users / sync_s[1]:,.0f} |",
             f"| daily change CPU per tenant, Roster + PostgreSQL | {changes:.0f} changes · (filter + PATCH + s·delivery) | "
             f"{daily[0]:.2f} s + {daily[1]:.2f} s |",
             f"| tenants whose daily changes one primary absorbs (CPU) | 86400 · {budget:.1f} / {daily[1]:.2f} s | {86400 * budget / daily[1]:,.0f} |",
             ]
    lines += [f"| storage: {key} | | {gib(value)} |" for key, value in tenant_bytes.items()]
    lines += [f"| storage per tenant, steady state | sum of the above | {gib(total)} |",
              f"| storage per tenant just after its initial sync | directory + initial events until they age out | {gib(sum(initial.values()))} |",
              f"| tenants whose directory (users, groups, memberships) fits in half the RAM | {a.model_ram_gb} GB / 2 / {gib(hot)} | "
              f"{ram / 2 / hot:,.0f} |"]
    return lines, {"tenant_bytes": tenant_bytes, "initial_bytes": initial, "initial_sync_cpu_s": {"roster": sync_s[0], "postgres": sync_s[1]},
                   "daily_cpu_s": {"roster": daily[0], "postgres": daily[1]}, "tenants_by_ram": ram / 2 / hot,
                   "tenants_by_daily_cpu": 86400 * budget / daily[1], "initial_syncs_per_hour": 3600 * budget / sync_s[1]}


# ---------------------------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", default=".build/release/roster")
    parser.add_argument("--users", type=int, default=20_000, help="users seeded through Bulk")
    parser.add_argument("--seconds", type=int, default=3, help="seconds of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per row; each figure is their median")
    parser.add_argument("--bulk-size", type=int, default=100, help="user POSTs per Bulk request in the Bulk row")
    parser.add_argument("--delete-pool", type=int, default=15_000, help="users made for DELETE, per round")
    parser.add_argument("--backlog", type=int, default=4000, help="events per subscription in the webhook rows")
    parser.add_argument("--timeout", type=int, default=90, help="seconds a webhook backlog may take")
    parser.add_argument("--json", help="also write every figure and the model to this file")
    parser.add_argument("--retention-days", type=int, default=30, help="ROSTER_EVENT_RETENTION_DAYS of the model")
    parser.add_argument("--model-cores", type=int, default=4, help="cores of the modelled PostgreSQL primary")
    parser.add_argument("--model-ram-gb", type=int, default=16, help="RAM of the modelled primary")
    parser.add_argument("--model-utilisation", type=float, default=0.7, help="share of the primary's CPU to plan for")
    parser.add_argument("--model-tenant-users", type=int, default=1000)
    parser.add_argument("--model-groups-per-1000", type=float, default=50, help="groups per 1 000 users")
    parser.add_argument("--model-memberships-per-user", type=int, default=5)
    parser.add_argument("--model-daily-change", type=float, default=0.02, help="share of a tenant's users changed a day")
    parser.add_argument("--model-subscriptions", type=int, default=1, help="webhook subscriptions per tenant (all event types)")
    args = parser.parse_args()
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
        model_lines, model_json = model(bench, args)
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
