#!/usr/bin/env python3
"""What rate limiting and access JWTs cost: req/s of GET /scim/v2/Users/{id} and of a protected admin GET (with an API key and with an access JWT), limits on and off, in one run.

Usage: python3 scripts/bench_ratelimit.py --roster .build/release/roster [--port 18480] [--rounds 8]
       [--seconds 3] [--users 1000] [--admin-path /api/v1/tenants] [--together]

Starts `roster dev` (a throwaway PostgreSQL) on PORT and seeds USERS users over SCIM, then two
`roster serve` on that database: rate limiting on (PORT+1; ROSTER_RATE_LIMIT_SCIM and _ADMIN at
1000000/1s, too high to refuse, so every request still takes a token and gets its RateLimit fields)
and off (PORT+2). wrk (-t1 -c16) drives them one after the other in each round, the order swapped
every round so drift hits both alike; `--together` drives both at once instead (-c8 each: the same
background load for both, but they compete for the cores, which swings single rounds more). A
non-2xx answer (a 429) stops the run. Prints each round and, per endpoint, the median of the rounds'
on/off ratios of req/s and of each server's own CPU time per request (from /proc: less disturbed by
other load on a shared machine; PostgreSQL's share is the same for both and left out). `--perf` then samples the limiting server with
`perf record` under GET /scim/v2/Users/{id} and prints the share of its CPU spent in the rate-limit
middleware (the limiter, the policy lookup, the header fields): a figure a busy machine cannot blur.
Loopback only; bounded by ROUNDS x SECONDS; stops what it started, by pid.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from devserver import post_user, roster_dev, wait_ready

HIGH = "1000000/1s"


def headers_of(port: int, path: str, header: str, value: str) -> dict[str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={header: value})
    with urllib.request.urlopen(request, timeout=10) as response:
        return {k.lower(): v for k, v in response.headers.items()}


class Load:
    """One endpoint as wrk drives it: a header, and a Lua script or a path."""

    def __init__(self, header: str, script: Path | None = None, path: str = "/"):
        self.header, self.script, self.path = header, script, path

    def start(self, port: int, seconds: int, connections: int) -> subprocess.Popen:
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", self.header]
        if self.script:
            command += ["-s", str(self.script)]
        return subprocess.Popen(command + [f"http://127.0.0.1:{port}{self.path}"], stdout=subprocess.PIPE, text=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate(proc: subprocess.Popen, seconds: int) -> float:
    out, _ = proc.communicate(timeout=seconds + 30)
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw non-2xx answers (a 429 would mean the limit was too low): {out}")
    return float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))


def middleware_share(load: Load, port: int, pid: int, seconds: int, folder: Path) -> float:
    """Percent of the server's CPU samples inside RateLimitMiddleware (callees included), from perf."""
    data = folder / "perf.data"
    perf = subprocess.Popen(["perf", "record", "-F", "1999", "-g", "-o", str(data), "-p", str(pid), "--", "sleep", str(seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rate(load.start(port, seconds, 16), seconds)
    perf.wait(timeout=seconds + 60)
    report = subprocess.run(["perf", "report", "-i", str(data), "--children", "--sort", "symbol", "--stdio", "--percent-limit", "0"],
                            capture_output=True, text=True, timeout=300).stdout
    # The middleware's own async partial functions (before and after the handler) and everything they call.
    return sum(float(match.group(1)) for match in re.finditer(r"^\s+([\d.]+)%\s+[\d.]+%\s+\[\.\]\s+\S*RateLimitMiddlewareV6handle", report, re.MULTILINE))


def measure(load: Load, servers: dict[str, tuple[int, int]], seconds: int, alternate: bool, swap: bool) -> dict[str, tuple[float, float]]:
    """(req/s, CPU µs per request) of each server (label: (port, pid)): both at once, or one after the other."""
    if not alternate:
        before = {label: cpu_seconds(pid) for label, (_, pid) in servers.items()}
        running = {label: load.start(port, seconds, 8) for label, (port, _) in servers.items()}
        rates = {label: rate(proc, seconds) for label, proc in running.items()}
        return {label: (rates[label], (cpu_seconds(pid) - before[label]) * 1e6 / (rates[label] * seconds))
                for label, (_, pid) in servers.items()}
    results = {}
    for label, (port, pid) in (list(servers.items())[::-1] if swap else list(servers.items())):
        before = cpu_seconds(pid)
        value = rate(load.start(port, seconds, 16), seconds)
        results[label] = (value, (cpu_seconds(pid) - before) * 1e6 / (value * seconds))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", required=True)
    parser.add_argument("--port", type=int, default=18480)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--admin-path", default="/api/v1/tenants", help="the protected admin GET to drive")
    parser.add_argument("--together", action="store_true", help="drive the two servers at once, not one after the other")
    parser.add_argument("--perf", action="store_true", help="also profile the limiting server with perf (needs perf and permission)")
    args = parser.parse_args()

    started: list[subprocess.Popen] = []
    folder = Path(tempfile.mkdtemp(prefix="roster-bench-ratelimit-"))
    try:
        with roster_dev(args.roster, args.port) as (_, banner):
            token, key = banner["token"], banner["key"]
            ids = [post_user(args.port, token, f"bench.{n}") for n in range(args.users)]
            random.Random(1).shuffle(ids)
            users_lua = folder / "users.lua"
            users_lua.write_text(
                "local ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n"
                "local n = 0\n"
                "request = function()\n"
                "  n = n + 1\n"
                "  return wrk.format('GET', '/scim/v2/Users/' .. ids[(n % #ids) + 1])\n"
                "end\n")

            servers: dict[str, tuple[int, int]] = {}
            for label, port, limit in (("on", args.port + 1, HIGH), ("off", args.port + 2, "off")):
                env = dict(os.environ, ROSTER_DATABASE_URL=banner["db"], ROSTER_SECRET_KEY=banner["secret_key"], ROSTER_PORT=str(port), ROSTER_HOST="127.0.0.1",
                           ROSTER_RATE_LIMIT_SCIM=limit, ROSTER_RATE_LIMIT_ADMIN=limit, ROSTER_LOG_LEVEL="warning",
                           ROSTER_WEBHOOKS="false",
                           # Replicas of one service share its public URL, the issuer of their access tokens.
                           ROSTER_PUBLIC_URL=f"http://127.0.0.1:{args.port + 1}")
                proc = subprocess.Popen([args.roster, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
                started.append(proc)
                wait_ready(port, proc)
                servers[label] = (port, proc.pid)

            # Limiting is really on in one and off in the other.
            on = headers_of(servers["on"][0], args.admin_path, "X-Admin-API-Key", key)
            off = headers_of(servers["off"][0], args.admin_path, "X-Admin-API-Key", key)
            if "ratelimit-policy" not in on or "ratelimit-policy" in off:
                raise RuntimeError(f"unexpected RateLimit fields: on {on.get('ratelimit-policy')}, off {off.get('ratelimit-policy')}")
            print(f"limiting on answers RateLimit-Policy: {on['ratelimit-policy']}", flush=True)

            # An access JWT for the same key's rights (POST /api/v1/auth/token): verified from memory, never the database.
            body = json.dumps({"admin_key": key}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{servers['on'][0]}/api/v1/auth/token", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                access = json.load(response)["access_token"]
            key_endpoint, jwt_endpoint = f"GET {args.admin_path} (key)", f"GET {args.admin_path} (JWT)"
            endpoints = {
                "GET /scim/v2/Users/{id}": Load(f"Authorization: Bearer {token}", users_lua),
                key_endpoint: Load(f"X-Admin-API-Key: {key}", path=args.admin_path),
                jwt_endpoint: Load(f"Authorization: Bearer {access}", path=args.admin_path),
            }
            for load in endpoints.values():
                measure(load, servers, 2, not args.together, False)  # warm-up: connections, prepared statements, caches

            mode = "both at once" if args.together else "one after the other"
            print(f"{args.rounds} rounds of {args.seconds} s per endpoint, {mode}; load average {os.getloadavg()[0]:.1f} "
                  f"on {os.cpu_count()} cores", flush=True)
            rates = {(endpoint, label): [] for endpoint in endpoints for label in servers}
            cpu = {(endpoint, label): [] for endpoint in endpoints for label in servers}
            ratios: dict[str, list[float]] = {endpoint: [] for endpoint in endpoints}
            cpu_ratios: dict[str, list[float]] = {endpoint: [] for endpoint in endpoints}
            for round_number in range(1, args.rounds + 1):
                for endpoint, load in endpoints.items():
                    result = measure(load, servers, args.seconds, not args.together, round_number % 2 == 0)
                    for label, (value, micros) in result.items():
                        rates[(endpoint, label)].append(value)
                        cpu[(endpoint, label)].append(micros)
                    ratios[endpoint].append(result["on"][0] / result["off"][0])
                    cpu_ratios[endpoint].append(result["on"][1] / result["off"][1])
                    print(f"round {round_number}: {endpoint:<28} on {result['on'][0]:7.0f} req/s {result['on'][1]:5.0f} µs CPU/req, "
                          f"off {result['off'][0]:7.0f} req/s {result['off'][1]:5.0f} µs CPU/req, on/off {ratios[endpoint][-1]:.3f}",
                          flush=True)
            print(f"load average now {os.getloadavg()[0]:.1f}\n")
            # Each round's on/off pair shares its moment's background load; the median of those ratios resists it best.
            worst = worst_cpu = float("-inf")
            for endpoint in endpoints:
                ratio, cpu_ratio = statistics.median(ratios[endpoint]), statistics.median(cpu_ratios[endpoint])
                on_cpu, off_cpu = statistics.median(cpu[(endpoint, "on")]), statistics.median(cpu[(endpoint, "off")])
                worst = max(worst, (1 - ratio) * 100)
                worst_cpu = max(worst_cpu, (cpu_ratio - 1) * 100)
                print(f"{endpoint}:\n  req/s on {statistics.median(rates[(endpoint, 'on')]):.0f}, off {statistics.median(rates[(endpoint, 'off')]):.0f}; "
                      f"median of the rounds' on/off {ratio:.3f} (rounds {min(ratios[endpoint]):.3f}…{max(ratios[endpoint]):.3f}): "
                      f"throughput cost {(1 - ratio) * 100:+.1f} %\n  roster CPU per request on {on_cpu:.0f} µs, off {off_cpu:.0f} µs; "
                      f"median of the rounds' on/off {cpu_ratio:.3f} (rounds {min(cpu_ratios[endpoint]):.3f}…{max(cpu_ratios[endpoint]):.3f}): "
                      f"CPU cost {(cpu_ratio - 1) * 100:+.1f} %")
            for label in servers:
                by_key, by_jwt = statistics.median(rates[(key_endpoint, label)]), statistics.median(rates[(jwt_endpoint, label)])
                key_cpu, jwt_cpu = statistics.median(cpu[(key_endpoint, label)]), statistics.median(cpu[(jwt_endpoint, label)])
                print(f"limiting {label}: admin GET with an access JWT {by_jwt:.0f} req/s vs an API key {by_key:.0f} req/s "
                      f"(JWT/key {by_jwt / by_key:.3f}); roster CPU per request JWT {jwt_cpu:.0f} µs, key {key_cpu:.0f} µs")
            print(f"worst throughput cost {worst:+.1f} %, worst CPU-per-request cost {worst_cpu:+.1f} % "
                  f"({'both under' if max(worst, worst_cpu) < 5 else 'NOT both under'} the 5 % budget)")
            if args.perf:
                share = middleware_share(endpoints["GET /scim/v2/Users/{id}"], *servers["on"], args.seconds * 3, folder)
                print(f"perf: the rate-limit middleware is {share:.2f} % of roster's CPU on GET /scim/v2/Users/{{id}}")
        return 0
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()


if __name__ == "__main__":
    sys.exit(main())
