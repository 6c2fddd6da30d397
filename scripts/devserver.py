"""Runs `roster dev` for the benchmark scripts: starts it on loopback, reads its banner, and
stops it (SIGINT, then SIGKILL of its process group after 60 s) when the `with` block ends."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator

BANNER = {
    "base": r"SCIM base URL:\s*(\S+)",
    "token": r"SCIM token:\s*(\S+)",
    "key": r"Admin API key:\s*(\S+)",
    "db": r"Database URL:\s*(\S+)",
    "secret_key": r"Secret key:\s*ROSTER_SECRET_KEY=(\S+)",
}


class NoBanner(Exception):
    pass


@contextlib.contextmanager
def roster_dev(roster: str, port: int) -> Iterator[tuple[subprocess.Popen, dict[str, str]]]:
    """Yields the process and its banner: base (SCIM base URL), token, key, db, origin."""
    proc = subprocess.Popen([roster, "dev", "--port", str(port), "--log-level", "error"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        banner: dict[str, str] = {}
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            for key, pattern in BANNER.items():
                if match := re.search(pattern, line):
                    banner[key] = match.group(1)
            if "Press Ctrl-C" in line or time.monotonic() > deadline:
                break
        if len(banner) < len(BANNER):
            raise NoBanner(f"roster dev did not print its banner (read {sorted(banner)})")
        banner["origin"] = banner["base"].rsplit("/scim/v2", 1)[0]
        yield proc, banner
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Stops a roster this script started: SIGINT, then SIGKILL of its process group after 60 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Waits until a `roster serve` on PORT answers /api/health/ready with 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"roster on port {port} did not become ready")


def post_user(port: int, token: str, name: str) -> str:
    """Creates a SCIM user named NAME; returns its id."""
    body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/scim/v2/Users", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["id"]
