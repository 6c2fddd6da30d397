"""Checks a live Roster against its served OpenAPI document (called by scripts/blackbox.py).

1. openapi-spec-validator validates the served JSON and YAML documents;
2. schemathesis runs every /api/v1 admin operation from the served document, with a
   fresh global admin key, bounded in examples and time: no 5xx, responses conform
   (status codes, content types, headers, bodies).

Secrets can appear in schemathesis' output (a created key is in its response body), so
its output is shown only redacted, and only for failures.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

MAX_EXAMPLES = 30  # per operation and phase
RUN_TIMEOUT = 1200  # s, the whole schemathesis run (290 s for 36 operations on a 2-core machine, debug build)
SEED = 1  # reproducible in CI; pass another to explore
ADMIN_PATHS = r"^/api/v1/(tenants|scim|admin-keys|admin/|auth/|events|webhooks|audit)"
# positive_data_acceptance expects every schema-valid body to succeed; Roster rightly refuses
# what JSON Schema cannot say (an expiry in the past) with a documented 400. use_after_free
# expects 404 after DELETE; DELETE revokes, and the record stays readable with `revoked` set.
EXCLUDED_CHECKS = "positive_data_acceptance,use_after_free"
SECRET = re.compile(r"\b(scim|radm|whsec)_[A-Za-z0-9_+/=-]{20,}")


def redact(text: str) -> str:
    return SECRET.sub(r"\1_[redacted]", text)


def fetch(url: str, headers: dict[str, str] | None = None, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={**(headers or {}), **({"Content-Type": "application/json"} if data else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def validate_documents(origin: str, say, failures: list[str]) -> None:
    try:
        from openapi_spec_validator import validate
        from openapi_spec_validator.readers import read_from_filename
    except ImportError as err:
        failures.append(f"openapi-spec-validator is not installed ({err}); run: python3 -m pip install -r scripts/requirements.txt")
        return
    valid = 0
    with tempfile.TemporaryDirectory(prefix="roster-openapi-") as folder:
        for suffix in ("json", "yaml"):
            status, body = fetch(f"{origin}/api/v1/openapi.{suffix}")
            path = Path(folder) / f"openapi.{suffix}"
            path.write_bytes(body)
            try:
                spec, _ = read_from_filename(str(path))
                validate(spec)
                valid += 1
            except Exception as err:  # the validator's errors vary by kind; all are findings
                failures.append(f"openapi-spec-validator: /api/v1/openapi.{suffix} is invalid: {str(err)[:500]}")
    print(f"openapi-spec-validator summary: {valid} passed, {2 - valid} failed", flush=True)


def run_schemathesis(origin: str, admin_key: str, say, failures: list[str]) -> None:
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        failures.append("schemathesis is not installed; run: python3 -m pip install -r scripts/requirements.txt")
        return
    # A key of its own: the stateful phase may revoke keys it can see, the banner's among them.
    try:
        _, created = fetch(f"{origin}/api/v1/admin-keys", {"X-Admin-API-Key": admin_key},
                           {"name": "schemathesis", "scopes": ["*"]})
        key = json.loads(created)["key"]
    except (OSError, ValueError, KeyError) as err:
        failures.append(f"could not create an admin key for schemathesis with POST /api/v1/admin-keys: {err}")
        return
    with tempfile.TemporaryDirectory(prefix="roster-schemathesis-") as folder:
        report = Path(folder) / "report.json"
        command = [
            st, "run", f"{origin}/api/v1/openapi.json", "--header", f"X-Admin-API-Key: {key}",
            "--include-path-regex", ADMIN_PATHS, "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS,
            "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--generation-database", "none",
            "--request-timeout", "10", "--workers", "1", "--no-color",
            "--report", "json", "--report-json-path", str(report),
        ]
        say(f"running schemathesis on the admin operations ({MAX_EXAMPLES} examples per operation and phase, seed {SEED})")
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                                 stdin=subprocess.DEVNULL, cwd=folder)
        except subprocess.TimeoutExpired:
            failures.append(f"schemathesis did not finish within {RUN_TIMEOUT} s")
            return
        if not report.exists():
            failures.append(f"schemathesis wrote no report (exit {run.returncode}): {redact(run.stderr or run.stdout)[-1500:]}")
            return
        result = json.loads(report.read_text())
    operations, cases = result["operations"], result["test_cases"]
    failed = sum(f["count"] for f in result["failures"]) + len(result["errors"])
    phases = ", ".join(f"{name} {p['status']}" for name, p in result["phases"].items())
    print(f"schemathesis: {operations['tested']} of {operations['total']} operations tested (the admin API), "
          f"{cases['generated']} test cases in {result['running_time']:.1f} s; phases: {phases}", flush=True)
    print(f"schemathesis summary: {cases['generated'] - cases['with_failures']} passed, {cases['with_failures']} failed", flush=True)
    if failed or run.returncode != 0:
        print(redact(run.stdout[run.stdout.find("FAILURES"):] if "FAILURES" in run.stdout else run.stdout[-4000:]), flush=True)
        kinds = ", ".join(f"{f['code']} {f['title']} on {', '.join(f['operations'])}" for f in result["failures"])
        failures.append(f"schemathesis found {failed} failure(s) (exit {run.returncode}): {kinds or result['errors']}")
    if operations["tested"] < 51:
        failures.append(f"schemathesis tested only {operations['tested']} admin operations; the document has at least 51")


def check_openapi(origin: str, admin_key: str, say, failures: list[str]) -> None:
    validate_documents(origin, say, failures)
    run_schemathesis(origin, admin_key, say, failures)
