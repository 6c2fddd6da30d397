#!/usr/bin/env python3
"""Webhook delivery while SCIM writes run: events/s delivered and commit-to-receipt latency.

Usage: python3 scripts/bench_webhooks.py [--roster .build/release/roster] [--users 20000] [--subscriptions 1]

Starts `roster dev` (use a release build) and a receiver on loopback (asyncio, answers 204 at
once), subscribes it --subscriptions times through the admin API, then creates --users users
through /Bulk from two clients while the dispatcher delivers. Prints the events each
subscription received, duplicates and order breaks (both must be 0), the delivery rate over the
run, and the latency from an event's `occurred_at` (its transaction's time, a moment before its
commit) to its receipt, p50 and p99. Every process it starts is stopped; loopback only; bounded
by --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import statistics
import sys
import threading
import time
import urllib.request
from datetime import datetime

from devserver import roster_dev

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


class Receiver:
    """A minimal HTTP/1.1 server (keep-alive) that records (receipt time, body) per request path."""

    def __init__(self) -> None:
        self.received: dict[str, list[tuple[float, bytes]]] = {}
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = await reader.readexactly(length)
                self.received.setdefault(path, []).append((time.time(), body))
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            server = self.loop.run_until_complete(asyncio.start_server(self.handle, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)

    def count(self) -> int:
        return sum(len(v) for v in list(self.received.values()))


def request(url: str, headers: dict, body: dict | None = None, method: str = "GET") -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=600) as response:
        return json.loads(response.read() or b"{}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", default=".build/release/roster")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--subscriptions", type=int, default=1)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rate", type=int, default=0, help="at most this many writes per second (0: as fast as /Bulk goes)")
    parser.add_argument("--port", type=int, default=18192)
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--after-writes", action="store_true",
                        help="hold deliveries until every write is done, to measure the dispatcher alone (latency is then not meaningful)")
    args = parser.parse_args()

    receiver = Receiver()
    receiver.start()
    with roster_dev(args.roster, args.port) as (_, banner):
        origin = banner["origin"]
        admin = {"X-Admin-API-Key": banner["key"], "Content-Type": "application/json"}
        subscriptions = [request(f"{origin}/api/v1/webhooks", admin, {"url": f"http://127.0.0.1:{receiver.port}/s{i}"}, "POST")
                         for i in range(args.subscriptions)]
        if args.after_writes:
            # Deliveries start only once every write is done: the dispatcher alone, from a backlog.
            for subscription in subscriptions:
                request(f"{origin}/api/v1/webhooks/{subscription['id']}", admin, {"enabled": False}, "PATCH")

        scim = {"Authorization": f"Bearer {banner['token']}", "Content-Type": "application/scim+json"}
        batches = [[{"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": {"schemas": [USER], "userName": f"hook-{i}"}}
                    for i in range(start, min(start + args.batch, args.users))] for start in range(0, args.users, args.batch)]
        started = begun = time.time()
        def write(numbered: tuple[int, list]) -> None:
            index, ops = numbered
            if args.rate:  # batch n starts no earlier than n * batch / rate seconds in
                time.sleep(max(0.0, begun + index * args.batch / args.rate - time.time()))
            request(f"{banner['base']}/Bulk", scim, {"schemas": [BULK], "Operations": ops}, "POST")

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(write, enumerate(batches)))
        written = time.time()
        if args.after_writes:
            for subscription in subscriptions:
                request(f"{origin}/api/v1/webhooks/{subscription['id']}", admin, {"enabled": True}, "PATCH")
            started = time.time()
        expected = args.users * args.subscriptions
        while receiver.count() < expected and time.time() - started < args.timeout:
            time.sleep(0.05)
        finished = time.time()

        print(f"bench: {args.users} users through /Bulk ({args.batch} per request, 2 clients"
              f"{f', at most {args.rate}/s' if args.rate else ''}), "
              f"{args.subscriptions} subscription(s), one run")
        print(f"writes: {args.users} events committed in {written - begun:.1f} s = {args.users / (written - begun):.0f} events/s")
        latencies: list[float] = []
        failures = 0
        for i in range(args.subscriptions):
            got = receiver.received.get(f"/s{i}", [])
            sequences = []
            for at, body in got:
                event = json.loads(body)["data"]
                sequences.append(event["sequence"])
                occurred = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")).timestamp()
                latencies.append((at - occurred) * 1000)
            duplicates = len(sequences) - len(set(sequences))
            breaks = sum(1 for a, b in zip(sequences, sequences[1:]) if b <= a)
            failures += duplicates + breaks + (args.users - len(set(sequences)))
            print(f"subscription {i}: received {len(set(sequences))} of {args.users}, duplicates {duplicates}, order breaks {breaks}")
        total = receiver.count()
        print(f"delivered: {total} events in {finished - started:.1f} s from the first write = {total / (finished - started):.0f} events/s "
              f"(target >= 2000)")
        if latencies:
            latencies.sort()
            p50 = statistics.median(latencies)
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(f"occurred_at -> receipt: p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p99 < 50 ms)")
        return 0 if failures == 0 else 1

if __name__ == "__main__":
    sys.exit(main())
