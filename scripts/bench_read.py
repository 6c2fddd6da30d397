#!/usr/bin/env python3
"""GET /Users/{id} against `pgbench -S` in one run, with a `perf` profile of roster while wrk runs.

Usage: python3 scripts/bench_read.py [--roster .build/release/roster] [--users 10000] [--seconds 10] [--perf]

Starts `roster serve` (use a release build) with rate limits off on a throwaway PostgreSQL (bench_peer.py's
helpers), seeds users with psql, runs `pgbench -S` (its tables made in roster's database) and `wrk -t2 -c32`
on one user, and prints both rates and their ratio (the issue's target: GET by id >= 0.25 x pgbench -S). With --perf, records roster with `perf record -g` while wrk
runs and prints the top of the profile three ways: by shared object, by function (self), by function with callees. Loopback only; stops
everything it started.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from bench_scim import SEED
from bench_peer import Cluster, lua_post, roster_server, wrk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", default=".build/release/roster")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--perf", action="store_true", help="profile roster while wrk runs")
    parser.add_argument("--post", action="store_true", help="then POST /Users for as long, profiled too when --perf")
    parser.add_argument("--perf-lines", type=int, default=25, help="rows per profile view")
    parser.add_argument("--keep-perf", help="keep the perf recording at this path")
    args = parser.parse_args()
    for tool in ("wrk", "psql", "pgbench") + (("perf",) if args.perf else ()):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is needed")
            return 1

    # `roster serve` with rate limits off, as bench_peer.py starts it: `roster dev` keeps its default SCIM limit
    # (3 000 requests per 60 s per token), which wrk passes within seconds, and the rest were 429s.
    with tempfile.TemporaryDirectory() as folder, Cluster() as cluster, \
            roster_server(args.roster, cluster, Path(folder)) as (proc, port, token):
        db = cluster.url("roster")
        banner = {"base": f"http://127.0.0.1:{port}/scim/v2", "token": token}
        subprocess.run(["psql", db, "-q", "-v", "ON_ERROR_STOP=1", "-c", SEED.format(count=args.users),
                        "-c", "VACUUM ANALYZE users"], check=True)
        subprocess.run(["pgbench", "-i", "-q", "-s", "1", db], check=True, capture_output=True)
        headers = {"Authorization": f"Bearer {banner['token']}"}
        middle = args.users // 2
        request = urllib.request.Request(
            f"{banner['base']}/Users?filter=" + urllib.parse.quote(f'userName eq "user-{middle}"'), headers=headers)
        body = urllib.request.urlopen(request, timeout=30).read().decode()
        user_id = re.search(r'"id":"([0-9a-f-]{36})"', body).group(1)
        url = f"{banner['base']}/Users/{user_id}"
        assert urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30).status == 200

        # Warm up, then pgbench -S, then wrk (profiled when asked), each alone.
        subprocess.run(["wrk", "-t2", f"-c{args.connections}", "-d2s", "-H", f"Authorization: Bearer {banner['token']}", url],
                       capture_output=True, check=True)
        out = subprocess.run(["pgbench", "-S", "-n", f"-c{args.connections}", "-j2", f"-T{args.seconds}", db],
                             capture_output=True, text=True, check=True).stdout
        tps = float(re.search(r"tps = ([\d.]+)", out).group(1))

        record = None
        data = f"/tmp/roster-bench-read-{os.getpid()}.perf"
        if args.perf:
            record = subprocess.Popen(["perf", "record", "-g", "-o", data, "-p", str(proc.pid), "--", "sleep", str(args.seconds)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s",
                              "-H", f"Authorization: Bearer {banner['token']}", url],
                             capture_output=True, text=True, check=True).stdout
        rate = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if record is not None:
            record.wait()

        print(f"bench: {args.users} users, wrk -t2 -c{args.connections} -d{args.seconds}s, pgbench -S -c{args.connections} -j2 -T{args.seconds}")
        print(f"GET /Users/{{id}}   {rate:>9.0f} req/s   errors {int(errors.group(1)) if errors else 0}")
        print(f"pgbench -S         {tps:>9.0f} tps")
        print(f"ratio GET / pgbench -S = {rate / tps:.3f} (target >= 0.25)")
        if errors and int(errors.group(1)) > 0:
            print("bench: non-2xx answers: the rate above is not that of GET by id")
            status = 1
        else:
            status = 0
        if args.post:
            # The write path: new users, each its own commit, profiled the same way.
            post_data = f"/tmp/roster-bench-post-{os.getpid()}.perf"
            post_record = None
            if args.perf:
                post_record = subprocess.Popen(["perf", "record", "-g", "-o", post_data, "-p", str(proc.pid), "--", "sleep", str(args.seconds)],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            posted = wrk(port, token, lua_post("/scim/v2", "bench-post"), args.seconds, Path(folder))
            if post_record is not None:
                post_record.wait()
            print(f"POST /Users        {posted.rate:>9.0f} req/s   errors {posted.errors}")
            if posted.errors:
                status = 1
        if record is not None:
            show_profile(data, args.perf_lines)
            if args.keep_perf:
                shutil.move(data, args.keep_perf)
            else:
                os.unlink(data)
        if args.post and args.perf:
            print("\nPOST /Users:")
            show_profile(post_data, args.perf_lines)
            if args.keep_perf:
                shutil.move(post_data, args.keep_perf + ".post")
            else:
                os.unlink(post_data)
        return status


def show_profile(data: str, lines: int) -> None:
    """Three views of one recording: where the CPU went by library, the hottest functions by their own time, and
    the hottest by time including what they called (what a request's stages cost)."""
    views = [("by shared object", ["--no-children", "--sort", "dso"]),
             ("by function, self", ["--no-children", "--sort", "sym"]),
             ("by function, with callees", ["--children", "--sort", "sym"])]
    for title, options in views:
        report = subprocess.run(["perf", "report", "-i", data, "-g", "none", "--percent-limit", "1.5", "--stdio", *options],
                                capture_output=True, text=True).stdout
        rows = [line for line in report.splitlines() if line.strip() and not line.startswith("#")]
        print(f"\nperf, {title}:")
        print("\n".join(line.rstrip()[:160] for line in rows[:lines]))


if __name__ == "__main__":
    sys.exit(main())
