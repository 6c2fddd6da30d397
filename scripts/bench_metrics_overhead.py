#!/usr/bin/env python3
"""Overhead of metrics (and request-id handling) on GET /scim/v2/Users/{id}, in one run.

Usage: python3 scripts/bench_metrics_overhead.py --roster .build/release/roster [--port 18190]
       [--rounds 4] [--seconds 5] [--users 1000]

Starts `roster dev` (a throwaway PostgreSQL) on PORT, seeds USERS users over SCIM, then two
`roster serve` processes on that database: metrics on (PORT+1) and ROSTER_METRICS=false (PORT+2).
wrk (-t1 -c16) drives them in alternating rounds (on, off, on, off, …) so drift hits both alike,
and the script prints each round and the median req/s of each with the overhead. Loopback only;
stops everything it started, by pid. Request ids are always on (every response carries one): both
sides pay for them, so the difference measured is the metrics middleware, counters and timers.
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

from devserver import post_user, wait_ready


def wrk(port: int, token: str, ids: list[str], seconds: int, folder: str) -> float:
    script = Path(folder) / "users.lua"
    script.write_text(
        "local ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        "  return wrk.format('GET', '/scim/v2/Users/' .. ids[(n % #ids) + 1])\n"
        "end\n")
    out = subprocess.run(["wrk", "-t1", "-c16", f"-d{seconds}s", "-s", str(script),
                          "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw non-2xx answers: {out}")
    return float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", required=True)
    parser.add_argument("--port", type=int, default=18190)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()

    started: list[subprocess.Popen] = []
    folder = tempfile.mkdtemp(prefix="roster-bench-")
    try:
        dev = subprocess.Popen([args.roster, "dev", "--port", str(args.port), "--log-level", "error"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        started.append(dev)
        banner = ""
        for line in dev.stdout:
            banner += line
            if "Press Ctrl-C" in line:
                break
        token = re.search(r"SCIM token:\s*(\S+)", banner).group(1)
        database_url = re.search(r"Database URL:\s*(\S+)", banner).group(1)
        secret_key = re.search(r"ROSTER_SECRET_KEY=(\S+)", banner).group(1)
        ids = [post_user(args.port, token, f"bench.{n}") for n in range(args.users)]
        random.Random(1).shuffle(ids)

        servers = {}
        for label, port, metrics in (("metrics on", args.port + 1, "true"), ("metrics off", args.port + 2, "false")):
            env = dict(os.environ, ROSTER_DATABASE_URL=database_url, ROSTER_PORT=str(port), ROSTER_HOST="127.0.0.1",
                       ROSTER_METRICS=metrics, ROSTER_LOG_LEVEL="info", ROSTER_SECRET_KEY=secret_key)
            proc = subprocess.Popen([args.roster, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            started.append(proc)
            wait_ready(port, proc)
            servers[label] = port
        for port in servers.values():
            wrk(port, token, ids, 2, folder)  # warm-up: connections, prepared caches, JIT-free but page-warm

        results: dict[str, list[float]] = {label: [] for label in servers}
        for round_number in range(1, args.rounds + 1):
            for label, port in servers.items():
                rate = wrk(port, token, ids, args.seconds, folder)
                results[label].append(rate)
                print(f"round {round_number}: {label:<11} {rate:9.0f} req/s", flush=True)
        on, off = statistics.median(results["metrics on"]), statistics.median(results["metrics off"])
        print(f"median: metrics on {on:.0f} req/s, metrics off {off:.0f} req/s, overhead {(off - on) / off * 100:+.1f} %")
        return 0
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for file in Path(folder).iterdir():
            file.unlink()
        os.rmdir(folder)


if __name__ == "__main__":
    sys.exit(main())
