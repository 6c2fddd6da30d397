"""Checks /api/docs in a real headless browser (Debian's chromium), driven over the DevTools protocol.

Called by scripts/blackbox.py against a live Roster. Passes when the page:
1. loads with no console error, no uncaught exception and no request to any other origin (offline);
2. lists every operation of the served document, once each;
3. sends a real "Try it" GET /api/v1/tenants with a key typed into the page, and shows 200;
4. fits a narrow (390 px) screen without horizontal scrolling.
Screenshots (wide, and narrow) are kept in the artifacts folder; they are not committed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

BROWSER_START = 30  # s, until DevTools answers
PAGE_TIMEOUT = 20  # s, for the page to render the document
TRY_TIMEOUT = 15  # s, for the "Try it" answer to show


class DevTools:
    """A minimal DevTools protocol session on one page target."""

    def __init__(self, url: str):
        import websocket  # websocket-client, pinned in scripts/requirements.txt

        self.socket = websocket.create_connection(url, timeout=10, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        request_id = self.next_id
        self.socket.send(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == request_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        return None

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.socket.close()


def start_browser(profile: str) -> tuple[subprocess.Popen, int]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium; .ci/run does it)")
    command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-sync",
               "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
               f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank"]
    browser = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    port_file = Path(profile) / "DevToolsActivePort"
    deadline = time.monotonic() + BROWSER_START
    while time.monotonic() < deadline and browser.poll() is None:
        if port_file.exists() and port_file.read_text().strip():
            return browser, int(port_file.read_text().split()[0])
        time.sleep(0.1)
    raise RuntimeError(f"chromium did not open its DevTools port within {BROWSER_START} s (exit {browser.poll()})")


def stop_browser(browser: subprocess.Popen) -> None:
    if browser.poll() is None:
        browser.send_signal(signal.SIGTERM)
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait(timeout=10)


def problems(events: list[dict], origin: str) -> list[str]:
    """Console errors, uncaught exceptions, failed loads and requests leaving the origin."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append(f"uncaught exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append("console error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            found.append(f"browser error: {params['entry'].get('text')} ({params['entry'].get('url', '')})")
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not (url.startswith(origin + "/") or url.startswith("data:") or url == "about:blank"):
                found.append(f"request to another origin: {url}")
    return found


def check_docs(origin: str, admin_key: str, artifacts: Path, say, failures: list[str]) -> None:
    with urllib.request.urlopen(f"{origin}/api/v1/openapi.json", timeout=30) as response:
        document = json.load(response)
    expected = sorted(op["operationId"] for item in document["paths"].values() for method, op in item.items()
                      if method in ("get", "put", "post", "delete", "patch") and isinstance(op, dict))
    artifacts.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="roster-chromium-")
    browser = None
    try:
        browser, port = start_browser(profile)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            page = next(t for t in json.load(response) if t.get("type") == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        for domain in ("Runtime", "Log", "Network", "Page"):
            tools.call(f"{domain}.enable")
        tools.call("Page.navigate", url=f"{origin}/api/docs")
        rendered = tools.wait_for("document.querySelector('main')?.dataset.operations", PAGE_TIMEOUT)
        if not rendered:
            failures.append(f"/api/docs did not render the document within {PAGE_TIMEOUT} s")
            return
        listed = tools.evaluate("[...document.querySelectorAll('[data-operation-id]')].map(e => e.dataset.operationId).sort()")
        if listed == expected:
            say(f"ok: /api/docs lists all {len(expected)} operations of the document")
        else:
            missing, extra = sorted(set(expected) - set(listed)), sorted(set(listed) - set(expected))
            failures.append(f"/api/docs lists {len(listed)} operations, the document has {len(expected)} (missing {missing}, extra {extra})")

        # "Try it", as a person would: type the key, open the operation, press its Send button.
        tools.evaluate("document.getElementById('credential').focus()")
        tools.call("Input.insertText", text=admin_key)
        tools.evaluate("document.getElementById('op-listTenants').scrollIntoView();"
                       "document.querySelector('#op-listTenants > header').click();"
                       "document.querySelector('[data-try=\"listTenants\"]').click()")
        status = tools.wait_for("document.querySelector('[data-result=\"listTenants\"]')?.dataset.status", TRY_TIMEOUT)
        shown = tools.evaluate("document.querySelector('[data-result=\"listTenants\"]')?.innerText || ''")
        if status == "200" and '"default"' in shown:
            say("ok: /api/docs 'Try it' GET /api/v1/tenants answered 200 with the tenants")
        else:
            failures.append(f"/api/docs 'Try it' GET /api/v1/tenants showed status {status!r}: {shown[:300]!r}")
        tools.evaluate("document.querySelector('[data-result=\"listTenants\"]').scrollIntoView({block: 'center'})")
        tools.screenshot(artifacts / "docs-try-it.png")

        # A narrow screen: everything stacks, nothing scrolls sideways.
        tools.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2, mobile=True)
        tools.evaluate("window.scrollTo(0, 0)")
        time.sleep(0.3)
        overflow = tools.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow is not None and overflow <= 1:
            say("ok: /api/docs fits a 390 px wide screen")
        else:
            failures.append(f"/api/docs is {overflow} px wider than a 390 px screen")
        tools.screenshot(artifacts / "docs-narrow.png")

        found = problems(tools.events, origin)
        tools.close()
        if found:
            failures.extend(f"/api/docs: {problem}" for problem in found[:10])
        else:
            say(f"ok: /api/docs loaded with no console error and no request beyond {urllib.parse.urlsplit(origin).netloc}")
        say(f"screenshots: {artifacts / 'docs-try-it.png'}, {artifacts / 'docs-narrow.png'}")
    except (OSError, RuntimeError, StopIteration, ValueError) as err:
        failures.append(f"headless-browser check of /api/docs failed: {type(err).__name__}: {err}")
    finally:
        if browser is not None:
            stop_browser(browser)
        shutil.rmtree(profile, ignore_errors=True)
