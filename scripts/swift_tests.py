#!/usr/bin/env python3
"""Runs `swift test --skip-build` with a watchdog, so a run that stops making progress fails with a
list of what was still running instead of holding CI until its own limit.

    python3 scripts/swift_tests.py [--quiet-limit SECONDS] [--limit SECONDS] [-- swift test arguments]

Progress is read from Swift Testing's event stream: when no test has ended for --quiet-limit seconds
(default 600) or the run has taken --limit seconds (default 2400), the tests still running are printed,
the whole process group is stopped, and the exit status is 1. Otherwise the exit status is swift test's.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time


class Progress:
    """What the event stream has said so far: tests started and ended, and when one last ended."""

    def __init__(self):
        self.started = {}
        self.ended = set()
        self.last_end = time.monotonic()
        self.lock = threading.Lock()

    def read(self, line):
        try:
            record = json.loads(line)
        except ValueError:
            return
        payload = record.get("payload", {}) if record.get("kind") == "event" else {}
        test = payload.get("testID")
        with self.lock:
            if payload.get("kind") == "testStarted":
                self.started[test] = time.monotonic()
            elif payload.get("kind") == "testEnded":
                self.ended.add(test)
                self.last_end = time.monotonic()

    def running(self):
        now = time.monotonic()
        with self.lock:
            return sorted((now - at, test) for test, at in self.started.items() if test not in self.ended)


def follow(path, progress, done):
    """Reads the event stream as it grows, until `done` is set and nothing more is there."""
    while not os.path.exists(path) and not done.is_set():
        time.sleep(0.2)
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8", errors="replace") as stream:
        pending = ""
        while True:
            chunk = stream.readline()
            if chunk:
                pending += chunk
                if pending.endswith("\n"):
                    progress.read(pending)
                    pending = ""
            elif done.is_set():
                return
            else:
                time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quiet-limit", type=float, default=600)
    parser.add_argument("--limit", type=float, default=2400)
    parser.add_argument("arguments", nargs="*")
    options = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="roster-swift-tests-")
    events = os.path.join(directory, "events.jsonl")
    command = ["swift", "test", "--skip-build", "--event-stream-output-path", events, "--event-stream-version", "0"]
    command += options.arguments
    child = subprocess.Popen(command, start_new_session=True)
    progress, done = Progress(), threading.Event()
    reader = threading.Thread(target=follow, args=(events, progress, done), daemon=True)
    reader.start()
    began = time.monotonic()
    reason = None
    while child.poll() is None:
        time.sleep(2)
        now = time.monotonic()
        if now - progress.last_end > options.quiet_limit:
            reason = f"no test ended for {options.quiet_limit:.0f} s"
        elif now - began > options.limit:
            reason = f"the run took longer than {options.limit:.0f} s"
        if reason:
            break
    if reason is None:
        done.set()
        reader.join(timeout=5)
        return child.returncode

    print(f"\nswift_tests: stopping the run: {reason}. Still running:", flush=True)
    for seconds, test in progress.running():
        print(f"  {seconds:7.0f} s  {test}", flush=True)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    return 1


if __name__ == "__main__":
    sys.exit(main())
