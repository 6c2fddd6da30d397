"""Checks the admin console (/console) and the setup portal (/setup) in a real browser: Debian's chromium, headless,
driven by chromium-driver through selenium, with axe-core's rules (axe-selenium-python) on every page.

Called by scripts/blackbox.py against a live `roster dev`. The flows, each asserting what the user sees:
1. sign in with email and password; a reload stays signed in (the quiet refresh); sign-out revokes the session;
   an admin key pasted instead works too;
2. create a tenant, then a SCIM token: the secret is shown once, works on SCIM, and is gone after a reload;
   revoking asks first, and the token then gets 401;
3. create a webhook (the secret shown once) to a local receiver, send a test, see a real delivery land in the log
   with its response code and latency, replay that one event (it arrives once more) and a range (just those);
4. filter the audit log by action and by actor;
5. a stale runtime-settings edit (someone else saved since) says so and offers to load the settings again;
6. create a setup link, follow it as an outsider (a fresh tab, no account), create the tenant's token through it,
   and be refused everything else with its secret;
7. a SCIM request made with that token shows in the portal's provisioning log and in the console's.
Every page: axe with no serious or critical violation (each is printed), no horizontal scrolling at 390 px,
screenshots at 1280 and 390 px wide (in the artifacts folder), no console error, no request to another origin.
Loopback only; every wait is bounded; the browser and the receiver are stopped at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
import urllib.parse
from pathlib import Path

from docs_check import problems
from webhook_check import Receiver, Scim, call

WAIT = 15  # s, for a page or an answer to show
DELIVERY_WAIT = 30  # s, for a webhook delivery or a provisioning-log entry
WIDE, NARROW = (1280, 900), (390, 844)
SERIOUS = {"serious", "critical"}


class Browser:
    """A headless chromium driven by chromium-driver, and what the checks need of it."""

    def __init__(self, origin: str, profile: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        driver = shutil.which("chromedriver")
        if chromium is None or driver is None:
            raise FileNotFoundError("chromium and chromium-driver are needed (apt-get install chromium chromium-driver; scripts/test does it)")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                         "--disable-extensions", "--disable-background-networking", "--disable-sync",
                         "--disable-component-update", f"--window-size={WIDE[0]},{WIDE[1]}", f"--user-data-dir={profile}"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        os.environ["SE_OFFLINE"] = "true"  # selenium's manager must not look anything up: both paths are given
        self.driver = webdriver.Chrome(service=Service(executable_path=driver, log_output=os.devnull), options=options)
        self.driver.set_script_timeout(60)
        self.origin = origin
        self.events: list[dict] = []

    # Navigation and waiting.
    def open(self, path: str) -> None:
        self.driver.get(self.origin + path)

    def wait(self, condition, timeout: float = WAIT, what: str = "the page"):
        """Polls `condition()` (a truthy answer ends the wait); raises with `what` when the time runs out."""
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            try:
                value = condition()
                if value:
                    return value
            except Exception as err:  # an element between renders: try again
                last_error = err
            time.sleep(0.2)
        raise AssertionError(f"{what} did not show within {timeout} s" + (f" ({last_error})" if last_error else ""))

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def find(self, css: str):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def one(self, css: str, timeout: float = WAIT):
        return self.wait(lambda: (self.find(css) or [None])[0], timeout, what=css)

    def page(self, name: str, timeout: float = WAIT):
        """Waits for the console page `name` to be rendered (its container is marked ready)."""
        return self.one(f'.page[data-page="{name}"][data-ready="true"]', timeout)

    def text(self, css: str = "main") -> str:
        return " ".join(element.text for element in self.find(css))

    def shows(self, text: str, css: str = "main", timeout: float = WAIT) -> str:
        return self.wait(lambda: text in self.text(css), timeout, what=f"“{text}”")

    # Forms, as a person fills them: by the label's text.
    def fill(self, form: str, values: dict[str, str]) -> None:
        for label, value in values.items():
            field = self.js("""
                const form = document.querySelector(`form[aria-label="${arguments[0]}"]`);
                const label = [...form.querySelectorAll('label')].find((l) => l.textContent.trim().startsWith(arguments[1]));
                return label && document.getElementById(label.htmlFor);""", form, label)
            if field is None:
                raise AssertionError(f"no field “{label}” in the form “{form}”")
            if field.get_attribute("type") == "checkbox":
                if field.is_selected() != bool(value):
                    field.click()
            elif field.tag_name == "select":
                from selenium.webdriver.support.select import Select
                Select(field).select_by_visible_text(value)
            else:
                field.clear()
                field.send_keys(value)

    def submit(self, form: str) -> None:
        self.one(f'form[aria-label="{form}"] button[type="submit"]').click()

    def button(self, text: str, within: str = "main"):
        """The first visible button whose text starts with `text`."""
        return self.wait(lambda: next((b for b in self.find(f"{within} button") if b.is_displayed() and b.text.strip().startswith(text)), None),
                         what=f"the button “{text}”")

    def confirm(self, expect_title: str) -> None:
        """Answers the confirmation dialog, after checking it asks the expected question."""
        dialog = self.one("dialog[open]")
        title = dialog.find_element("css selector", "h2").text
        if expect_title not in title:
            raise AssertionError(f"the confirmation asked “{title}”, expected “{expect_title}”")
        dialog.find_elements("css selector", "button")[-1].click()
        self.wait(lambda: not self.find("dialog[open]"), what="the dialog closing")

    # What the browser saw.
    def drain(self) -> None:
        """Moves the browser's console and network log into `events`, in DevTools-protocol form (as docs_check reads)."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"]).get("message", {})
            # The page's own requests (the browser's internal pages make theirs, which are not the console's).
            if message.get("method") == "Network.requestWillBeSent" and message.get("params", {}).get("documentURL", "").startswith(self.origin + "/"):
                self.events.append(message)
        for entry in self.driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                self.events.append({"method": "Log.entryAdded", "params": {"entry": {"level": "error", "text": entry.get("message", ""), "url": ""}}})

    def problems(self, expected: tuple[str, ...] = ()) -> list[str]:
        """Console errors and requests to other origins since the last call; `expected` errors (refusals a flow provokes) pass."""
        self.drain()
        found = [p for p in problems(self.events, self.origin) if not any(e in p for e in expected)]
        self.events.clear()
        return found

    def width(self, size: tuple[int, int]) -> None:
        width, height = size
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        time.sleep(0.3)

    def screenshot(self, path: Path) -> None:
        import base64
        height = min(int(self.js("return Math.max(document.documentElement.scrollHeight, window.innerHeight)")), 6000)
        width = int(self.js("return window.innerWidth"))
        data = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})["data"]
        path.write_bytes(base64.b64decode(data))

    def quit(self) -> None:
        try:
            self.driver.quit()  # ends chromium and chromium-driver, which selenium started
        except Exception:
            pass


class Checks:
    """The flows, one method each; a failed assertion fails that flow and the next one goes on."""

    def __init__(self, browser: Browser, origin: str, admin_key: str, artifacts: Path, say, failures: list[str]) -> None:
        self.b, self.origin, self.admin_key, self.artifacts, self.say, self.failures = browser, origin, admin_key, artifacts, say, failures
        self.admin = {"X-Admin-API-Key": admin_key, "Content-Type": "application/json"}
        self.suffix = secrets.token_hex(3)
        self.tenant = f"console-{self.suffix}"
        self.email = f"console-{self.suffix}@example.com"
        self.password = secrets.token_urlsafe(16)
        self.screenshots: list[str] = []
        self.axe_results: dict[str, str] = {}
        self.token = ""  # the SCIM token made in the console
        self.setup_token = ""  # the one made through the setup link

    def api(self, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
        return call(self.origin + path, headers or self.admin, body, method)

    def look(self, name: str, expected: tuple[str, ...] = ()) -> None:
        """The checks every page gets: axe, both widths (no sideways scrolling at 390 px), screenshots, no console error."""
        from axe_selenium_python import Axe

        b = self.b
        for label, size in (("1280", WIDE), ("390", NARROW)):
            b.width(size)
            if size == NARROW:
                overflow = b.js("return document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 1:
                    wide = b.js("""return [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'))
                                   .slice(0, 4).map((e) => e.tagName + '.' + e.className + '#' + e.id).join(', ')""")
                    self.failures.append(f"console: {name} is {overflow} px wider than a 390 px screen ({wide})")
            path = self.artifacts / f"{name}-{label}.png"
            b.screenshot(path)
            self.screenshots.append(path.name)
        b.width(WIDE)
        axe = Axe(b.driver)
        axe.inject()
        results = axe.run()
        bad = [v for v in results["violations"] if v.get("impact") in SERIOUS]
        lesser = [v for v in results["violations"] if v.get("impact") not in SERIOUS]
        self.axe_results[name] = (f"{len(bad)} serious/critical" + (f", {len(lesser)} minor/moderate ({', '.join(v['id'] for v in lesser)})" if lesser else ""))
        for violation in bad:
            targets = [" ".join(node["target"]) for node in violation["nodes"]][:5]
            self.failures.append(f"console: axe on {name}: {violation['impact']} {violation['id']} ({violation['help']}) at {targets}")
        for problem in b.problems(expected):
            self.failures.append(f"console: {name}: {problem}")

    def run(self, name: str, flow) -> None:
        try:
            flow()
        except Exception as err:  # AssertionError from a check, or selenium's own
            self.failures.append(f"console: {name}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
            try:
                self.b.screenshot(self.artifacts / f"failed-{name.replace(' ', '-')}.png")
                self.screenshots.append(f"failed-{name.replace(' ', '-')}.png")
            except Exception:
                pass

    # 1. Signing in and out.
    def sign_in(self) -> None:
        b = self.b
        status, user = self.api("POST", "/api/v1/admin/users", {"email": self.email, "password": self.password, "roles": ["owner"]})
        if status != 201:
            raise AssertionError(f"creating the admin user answered {status}: {user}")
        b.open("/console")
        b.page("sign-in")
        self.look("sign-in")
        b.fill("Sign in with email and password", {"Email": self.email, "Password": "not-the-password"})
        b.submit("Sign in with email and password")
        b.wait(lambda: b.text('form[aria-label="Sign in with email and password"] [role="alert"]'), what="the refused sign-in's message")
        b.problems(expected=("status of 401",))
        b.fill("Sign in with email and password", {"Password": self.password})
        b.submit("Sign in with email and password")
        b.page("tenants")
        b.shows(self.email, "#account")
        b.driver.refresh()  # the access token was only in memory: the refresh token brings a new one quietly
        b.page("tenants")
        b.shows(self.email, "#account")
        refresh = b.js("return sessionStorage.getItem('roster.console.refresh')")
        b.button("Sign out", "#account").click()
        b.page("sign-in")
        b.shows("You are signed out.")
        status, _ = self.api("POST", "/api/v1/auth/refresh", {"refresh_token": refresh}, {"Content-Type": "application/json"})
        if status != 401:
            raise AssertionError(f"after sign-out the session's refresh token answered {status}, not 401 (not revoked)")
        b.fill("Use an admin key", {"Admin key": self.admin_key})
        b.submit("Use an admin key")
        b.page("tenants")
        b.shows("an admin key", "#account")
        b.button("Forget key", "#account").click()
        b.page("sign-in")
        b.fill("Sign in with email and password", {"Email": self.email, "Password": self.password})
        b.submit("Sign in with email and password")
        b.page("tenants")
        self.say("ok: console: signed in with email and password, stayed signed in across a reload, sign-out revoked the session; an admin key works too")

    # 2. A tenant and its SCIM token.
    def tenant_and_token(self) -> None:
        b = self.b
        b.fill("Create a tenant", {"Name": self.tenant})
        b.submit("Create a tenant")
        b.shows(self.tenant, ".page table")
        self.look("tenants")
        b.open(f"/console#/t/{self.tenant}/tokens")
        b.page("tokens")
        b.fill("Create a SCIM token", {"Name": "Okta production"})
        b.submit("Create a SCIM token")
        secret = b.one(".secret-once code[data-secret]").text
        if not secret.startswith("scim_"):
            raise AssertionError(f"the token shown is not a SCIM token: {secret[:8]}…")
        b.shows("only time Roster shows this token")
        if not b.find(".secret-once button.copy"):
            raise AssertionError("the token has no copy button")
        b.shows("Okta production", ".page table")
        status, _ = call(f"{self.origin}/scim/v2/Users?count=1", {"Authorization": f"Bearer {secret}"})
        if status != 200:
            raise AssertionError(f"the token the console showed answered {status} on /scim/v2/Users")
        self.look("tokens")
        b.driver.refresh()
        b.page("tokens")
        b.shows("Okta production", ".page table")
        if secret in b.driver.page_source or b.find(".secret-once"):
            raise AssertionError("the token is still on the page after a reload")
        self.token = secret
        # A second token, revoked through the console.
        b.fill("Create a SCIM token", {"Name": "to revoke"})
        b.submit("Create a SCIM token")
        doomed = b.one(".secret-once code[data-secret]").text
        b.shows("to revoke", ".page table")
        row = b.wait(lambda: next((r for r in b.find(".page tbody tr") if "to revoke" in r.text), None), what="the token's row")
        row.find_element("css selector", "button.danger").click()
        b.confirm("Revoke the token")
        b.wait(lambda: any("to revoke" in r.text and "revoked" in r.text for r in b.find(".page tbody tr")), what="the token shown as revoked")
        status, _ = call(f"{self.origin}/scim/v2/Users?count=1", {"Authorization": f"Bearer {doomed}"})
        if status != 401:
            raise AssertionError(f"the revoked token answered {status}, not 401")
        self.say(f"ok: console: created tenant {self.tenant} and a SCIM token (shown once with a copy button, working, gone after a reload); revoking asked first and took effect")

    # 3. A webhook, its test, a real delivery and a replay.
    def webhook(self) -> None:
        b = self.b
        receiver = Receiver()
        receiver.start()
        try:
            b.open(f"/console#/t/{self.tenant}/webhooks")
            b.page("webhooks")
            b.fill("Create a webhook subscription", {"URL": receiver.url, "Description": "console check"})
            b.submit("Create a webhook subscription")
            secret = b.one(".secret-once code[data-secret]").text
            if not secret.startswith("whsec_"):
                raise AssertionError(f"the webhook secret shown is not whsec_…: {secret[:8]}…")
            b.shows(receiver.url, ".page table")
            self.look("webhooks")
            b.one(".secret-once a").click()  # "Open the subscription"
            b.shows("Delivery log")
            b.wait(lambda: b.find('.page[data-ready="true"] .cursor-list'), what="the delivery log")
            b.button("Send a test event").click()
            b.shows("Test delivered: 204")
            if not receiver.wait(1, DELIVERY_WAIT):
                raise AssertionError("the receiver got no test delivery")
            # A real event: a user made in the tenant is delivered, and lands in the log.
            Scim(f"{self.origin}/scim/v2", self.token).user(f"hooked-{self.suffix}")
            receiver.wait(2, DELIVERY_WAIT)

            def landed():
                b.button("Refresh the log").click()
                time.sleep(0.5)
                return next((r for r in b.find(".page tbody tr") if "#1" in r.text and "succeeded" in r.text), None)
            row = b.wait(landed, DELIVERY_WAIT, what="the delivery of event #1 in the log")
            if "204" not in row.text or " ms" not in row.text:
                raise AssertionError(f"the delivery's row lacks the response code or the latency: {row.text!r}")
            self.look("webhook")
            # Replay that one event: it arrives once more, and nothing else does.
            before = len(receiver.requests)
            row.find_element("css selector", "button").click()  # "This event"
            b.confirm("Replay event 1")
            b.shows("Replay of event 1 started")
            time.sleep(2)
            again = receiver.wait(before + 1, DELIVERY_WAIT)[before:]
            if [json.loads(body)["data"].get("sequence") for _, body in again] != [1]:
                raise AssertionError(f"replaying event 1 sent {len(again)} deliveries, not event 1 once")
            b.wait(lambda: (b.button("Refresh the log").click(), time.sleep(0.5),
                            sum("#1" in r.text for r in b.find(".page tbody tr")) >= 2)[-1], DELIVERY_WAIT, "the replayed delivery in the log")
            # A range: two more events, then #2 through #3 again by their ids.
            scim = Scim(f"{self.origin}/scim/v2", self.token)
            scim.user(f"ranged-a-{self.suffix}")
            scim.user(f"ranged-b-{self.suffix}")
            delivered = receiver.wait(before + 3, DELIVERY_WAIT)
            ids = {json.loads(body)["data"].get("sequence"): json.loads(body)["data"].get("id") for _, body in delivered}
            if not (2 in ids and 3 in ids):
                raise AssertionError(f"events 2 and 3 were not delivered (sequences {sorted(k for k in ids if k)})")
            before = len(receiver.requests)
            b.fill("Replay events", {"First event id": ids[2], "Last event id": ids[3]})
            b.submit("Replay events")
            b.confirm("Replay that range of events")
            b.shows("Replay of that range of events started")
            time.sleep(2)
            again = receiver.wait(before + 2, DELIVERY_WAIT)[before:]
            if [json.loads(body)["data"].get("sequence") for _, body in again] != [2, 3]:
                raise AssertionError(f"replaying events 2-3 sent {[json.loads(body)['data'].get('sequence') for _, body in again]}")
            self.say("ok: console: webhook created (secret shown once), a test and a real delivery landed in its log with code and latency; replaying one event sent it once, replaying a range sent just that range")
        finally:
            receiver.stop()

    # 4. The audit log, filtered.
    def audit(self) -> None:
        b = self.b
        b.open("/console#/audit")
        b.page("audit")
        b.fill("Filter the audit log", {"Action": "webhook.created"})
        b.submit("Filter the audit log")

        def filtered():
            rows = b.find(".page tbody tr")
            actions = [r.find_elements("css selector", "td")[0].text for r in rows]
            return rows and all(a == "webhook.created" for a in actions)
        b.wait(filtered, what="only webhook.created entries")
        self.look("audit")
        # The console's tenant was created by the signed-in admin user, not by the bootstrap key.
        tenant_id = self.api("GET", f"/api/v1/tenants/{self.tenant}")[1]["id"]
        b.fill("Filter the audit log", {"Action": "tenant.created", "Actor": "bootstrap"})
        b.submit("Filter the audit log")

        def only(action: str):
            rows = b.find(".page tbody tr")
            if not rows:
                return "No entries match." in b.text(".page")
            return all(r.find_elements("css selector", "td")[0].text == action for r in rows) and rows
        b.wait(lambda: only("tenant.created"), what="only tenant.created entries")
        if any(tenant_id in r.text for r in b.find(".page tbody tr")):
            raise AssertionError("filtered by actor bootstrap, the audit log still shows the tenant the admin user created")
        b.fill("Filter the audit log", {"Actor": ""})
        b.submit("Filter the audit log")
        b.wait(lambda: any(tenant_id in r.text for r in b.find(".page tbody tr")), what="the tenant.created entry of the console's tenant")
        self.say("ok: console: the audit log filters by action and by actor")

    # 5. A stale settings edit.
    def settings(self) -> None:
        b = self.b
        b.open("/console#/settings")
        b.page("settings")
        self.look("settings")
        status, _ = self.api("PUT", "/api/v1/config", {"list_page_size": {"default": 100, "max": 1000}},
                             {**self.admin, "If-Match": "*"})
        if status != 200:
            raise AssertionError(f"changing the settings behind the console's back answered {status}")
        b.fill("Edit the runtime settings", {"SCIM page size without count": "90"})
        b.submit("Edit the runtime settings")
        b.shows("Someone changed the settings since you loaded them")
        b.button("Load the current settings").click()
        b.shows("Version")
        b.problems(expected=("status of 412",))
        self.say("ok: console: a stale settings edit says someone changed them since, and offers to load them again")

    # The other pages: each opens, passes axe and fits both widths.
    def other_pages(self) -> None:
        b = self.b
        for name, path in (("admin-keys", "#/admin-keys"), ("admins", "#/admins"), ("health", "#/health"),
                           ("feed", f"#/t/{self.tenant}/feed"), ("rate-limits", f"#/t/{self.tenant}/rate-limits"),
                           ("connect", f"#/t/{self.tenant}/connect")):
            b.open(f"/console{path}")
            b.page(name)
            self.look(name)
        b.open(f"/console#/t/{self.tenant}/feed")
        b.page("feed")
        Scim(f"{self.origin}/scim/v2", self.token).user(f"followed-{self.suffix}")
        b.shows(f"followed-{self.suffix}", ".page table", DELIVERY_WAIT)
        newest = b.one(".page tbody tr").text
        if f"followed-{self.suffix}" not in newest:
            raise AssertionError(f"the change feed's first row is not the newest event: {newest!r}")
        self.say("ok: console: admin keys, admin users and roles, health, change feed (it followed a new event), rate limits and the connect guide open")

    # 6. A setup link, followed by an outsider: for a tenant of its own, which no identity provider has called yet.
    def setup_link(self) -> None:
        b = self.b
        self.setup_tenant = f"setup-{self.suffix}"
        status, created = self.api("POST", "/api/v1/tenants", {"name": self.setup_tenant})
        if status != 201:
            raise AssertionError(f"creating the tenant {self.setup_tenant} answered {status}: {created}")
        b.open(f"/console#/t/{self.setup_tenant}/setup-links")
        b.driver.refresh()  # the console reads the tenants again
        b.page("setup-links")
        b.fill("Create a setup link", {"Name": "Acme IT (Okta)", "Valid for (hours)": "24"})
        b.submit("Create a setup link")
        url = b.one(".secret-once code[data-secret]").text
        if "/setup#rset_" not in url:
            raise AssertionError(f"the setup link shown is not …/setup#rset_…: {url[:40]}")
        b.shows("Acme IT (Okta)", ".page table")
        self.look("setup-links")
        link_secret = url.split("#", 1)[1]
        # An outsider: a new tab with nothing in it (sessionStorage is per tab), opening the link.
        console_tab = b.driver.current_window_handle
        b.driver.switch_to.new_window("tab")
        # A link that is not (any longer) good says so, with the API's reason.
        b.driver.get(f"{self.origin}/setup#rset_{secrets.token_urlsafe(32)}")
        b.shows("This setup link does not work")
        b.one('#page [role="alert"]')
        self.look("setup-refused", expected=("status of 401",))
        b.js("sessionStorage.clear()")
        parts = urllib.parse.urlsplit(url)
        b.driver.get(f"{self.origin}{parts.path}#{parts.fragment}")
        b.shows(f"Connect your identity provider to {self.setup_tenant}")
        if "rset_" in b.driver.current_url:
            raise AssertionError("the setup secret stayed in the address bar (and the history)")
        choices = b.find(".idp-choice input")
        if not choices:
            raise AssertionError("the portal offers no identity provider")
        choices[0].click()
        b.one(".guide")
        b.button("Create the SCIM token").click()
        token = b.one(".secret-once code[data-secret]").text
        if not token.startswith("scim_"):
            raise AssertionError(f"the portal's token is not a SCIM token: {token[:8]}…")
        if token not in b.text(".guide"):
            raise AssertionError("the guide's steps do not show the new token filled in")
        self.setup_token = token
        self.look("setup")
        # The secret opens the setup API and nothing else.
        bearer = {"Authorization": f"Bearer {link_secret}"}
        refused = {path: call(self.origin + path, bearer)[0] for path in
                   ("/api/v1/tenants", f"/api/v1/tenants/{self.setup_tenant}/scim/tokens", "/api/v1/auth/me", "/scim/v2/Users")}
        refused["POST /api/v1/admin-keys"] = call(f"{self.origin}/api/v1/admin-keys", {**bearer, "Content-Type": "application/json"},
                                                  {"name": "x", "scopes": ["*"]}, "POST")[0]
        wrong = {path: status for path, status in refused.items() if status != 401}
        if wrong:
            raise AssertionError(f"the setup secret was not refused (401) everywhere else: {wrong}")
        if call(f"{self.origin}/api/v1/setup", bearer)[0] != 200:
            raise AssertionError("the setup secret does not open GET /api/v1/setup")
        # Pasted into the console as if it were an admin key, it is refused there too.
        b.driver.get(self.origin + "/console")
        b.page("sign-in")
        b.fill("Use an admin key", {"Admin key": link_secret})
        b.submit("Use an admin key")
        b.wait(lambda: b.text('form[aria-label="Use an admin key"] [role="alert"]'), what="the refusal of the setup secret as an admin key")
        b.problems(expected=("status of 401",))
        b.driver.back()
        b.shows(f"Connect your identity provider to {self.setup_tenant}")
        self.portal_tab = b.driver.current_window_handle
        self.console_tab = console_tab
        self.say("ok: setup portal: an outsider followed the link, created the tenant's token through it (shown once, filled into the guide); "
                 "the link's secret is refused (401) on the admin API, on SCIM and as a console key")

    # 7. The provisioning log, in the portal and in the console.
    def provisioning(self) -> None:
        b = self.b
        b.driver.switch_to.window(self.portal_tab)
        b.shows("Waiting for the first request", ".provisioning-log")
        scim = Scim(f"{self.origin}/scim/v2", self.setup_token)
        scim.user(f"provisioned-{self.suffix}")
        status, _ = call(f"{self.origin}/scim/v2/Users", scim.headers,
                         {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"provisioned-{self.suffix}"}, "POST")
        if status != 409:
            raise AssertionError(f"a duplicate userName answered {status}, not 409")
        b.shows("Requests are arriving", ".provisioning-log", DELIVERY_WAIT)
        b.wait(lambda: any("409" in r.text and "uniqueness" in r.text for r in b.find(".provisioning-log tbody tr")), DELIVERY_WAIT,
               "the failed request with its reason")
        self.look("setup-log")
        b.driver.switch_to.window(self.console_tab)
        b.open(f"/console#/t/{self.setup_tenant}/provisioning")
        b.page("provisioning")
        b.wait(lambda: any("POST /scim/v2/Users" in r.text and "201" in r.text for r in b.find(".page tbody tr")), DELIVERY_WAIT,
               "the SCIM request in the console's provisioning log")
        self.look("provisioning")
        self.say("ok: provisioning log: the portal showed the first request arriving and why the duplicate failed (409 uniqueness); the console shows it too")


def check_console(origin: str, admin_key: str, artifacts: Path, say, failures: list[str]) -> None:
    artifacts = artifacts / "console"
    artifacts.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="roster-console-chromium-")
    browser = None
    try:
        try:
            browser = Browser(origin, profile)
        except ImportError as err:
            failures.append(f"console: selenium or axe-selenium-python is not installed ({err}); run: python3 -m pip install -r scripts/requirements.txt")
            return
        checks = Checks(browser, origin, admin_key, artifacts, say, failures)
        checks.run("sign-in", checks.sign_in)
        checks.run("tenant and token", checks.tenant_and_token)
        checks.run("webhook", checks.webhook)
        checks.run("audit", checks.audit)
        checks.run("settings", checks.settings)
        checks.run("other pages", checks.other_pages)
        checks.run("setup link", checks.setup_link)
        if checks.setup_token:
            checks.run("provisioning log", checks.provisioning)
        for page, result in checks.axe_results.items():
            say(f"axe: {page}: {result}")
        say(f"console screenshots in {artifacts}: {', '.join(checks.screenshots)}")
    except Exception as err:
        failures.append(f"console: the browser check could not run: {type(err).__name__}: {err}")
    finally:
        if browser is not None:
            browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
