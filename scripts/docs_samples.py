#!/usr/bin/env python3
"""Runs every code sample of README.md and docs/**/*.md against a live `roster dev`, and checks every link.

Usage: python3 scripts/docs_samples.py --roster .build/debug/roster [--port 18090] [--only docs/scim.md]
           starts its own `roster dev` (with scripts/blackbox.py's helpers), runs the samples, stops it
       python3 scripts/docs_samples.py --links        only the link check; no server
       python3 scripts/docs_samples.py --self-test    shows that each kind of broken sample or link fails the run
scripts/blackbox.py calls check_doc_samples() with the `roster dev` it started.

A fenced block's info string says what it is (the first word is its language):
- `sh`, `bash`, `shell`: run with bash (`set -euo pipefail`); `console`: only its `$ ` lines are run.
  A file's blocks run in order, README.md first, each in a fresh bash that starts from the variables the
  blocks before it in that file left (every variable a block sets is kept). The first block that exits
  non-zero or runs past BLOCK_TIMEOUT fails the run, and the rest of its file is not run.
- `json`: parsed as one JSON value; `yaml`/`yml`: parsed as YAML (every document).
- `text`: output shown to the reader; nothing to run or parse.
- `<language> no-run: <why>`: not run (a server that waits for Ctrl-C, Docker, placeholders); the summary
  lists each with its reason. A `no-run` without a reason, a block without an info string, or another
  language, fails the run: every block is either checked or skipped on purpose.

What the shell samples get (README.md's "Try it" asks the reader to set the same):
  ROSTER_URL           the origin of the running Roster, e.g. http://127.0.0.1:8080
  ROSTER_ADMIN_KEY     the admin key `roster dev` printed (global, every scope)
  SCIM_TOKEN           the SCIM token `roster dev` printed (the `default` tenant)
  ROSTER_DATABASE_URL  the database URL `roster dev` printed, which the `roster` command line reads
  ROSTER_SECRET_KEY    the secret key `roster dev` printed, for `roster` commands that store a secret
  WEBHOOK_URL          a webhook receiver on loopback that answers 204 (scripts/webhook_check.py's)
and `roster` and `curl` on PATH. This `curl` is the system's with `--fail-with-body` added, so an answer of
4xx or 5xx fails its sample, and it refuses any URL whose host is not loopback. Each file's samples run
in a folder of their own under a temporary HOME, both deleted afterwards.

Links: every relative link and image in README.md, ARCHITECTURE.md and docs/**/*.md must name a file or
folder that exists, and an anchor must be a heading of the file it points into. Links into docs/idp/, which
another branch writes, are reported as pending while that folder does not exist.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent
BLOCK_TIMEOUT = 60  # s, per block
SHELLS = {"sh", "bash", "shell"}
CONSOLE = {"console"}
PARSED = {"json", "yaml", "yml"}
SHOWN = {"text"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PENDING_FOLDERS = ("docs/idp/",)  # written on another branch; checked once present
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
NO_RUN = re.compile(r"^no-run(?::\s*(?P<why>\S.*))?$")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")

CURL_WRAPPER = r"""#!/usr/bin/env bash
# docs_samples.py: the system curl, failing on a 4xx or 5xx answer and refusing any host but loopback.
for arg in "$@"; do
  case "$arg" in
    http://*|https://*)
      rest=${arg#*://}; hostport=${rest%%[/?#]*}; hostport=${hostport##*@}
      if [[ $hostport == \[* ]]; then host=${hostport%%]*}; host=${host#[}; else host=${hostport%%:*}; fi
      case "$host" in
        127.0.0.1|localhost|::1) ;;
        *) echo "docs_samples: this curl talks to loopback only, not to '$host' ($arg)" >&2; exit 97 ;;
      esac ;;
  esac
done
exec __CURL__ --fail-with-body "$@"
"""

ROSTER_WRAPPER = """#!/bin/sh
exec __ROSTER__ "$@"
"""


@dataclass
class Block:
    where: str  # file:line of the opening fence, the file relative to the repository
    language: str
    info: str
    text: str


@dataclass
class Report:
    passed: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # json/yaml parsed
    shown: list[str] = field(default_factory=list)  # text blocks
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    not_reached: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (where, what): samples and links
    failed_runs: int = 0  # shell blocks among `failed`
    links: int = 0
    pending_links: list[str] = field(default_factory=list)


# ---- reading Markdown ----

def doc_files(root: Path) -> list[Path]:
    """README.md first (its samples set up what the others use), then docs/ in path order."""
    files = [root / "README.md"] if (root / "README.md").exists() else []
    return files + sorted((root / "docs").rglob("*.md"))


def blocks_of(root: Path, path: Path) -> list[Block]:
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match or (match["fence"][0] == "`" and "`" in match["info"]):
            i += 1
            continue
        fence, indent, info, start = match["fence"], len(match["indent"]), match["info"].strip(), i
        body = []
        i += 1
        while i < len(lines):
            close = FENCE.match(lines[i])
            if close and close["fence"][0] == fence[0] and len(close["fence"]) >= len(fence) and not close["info"].strip():
                break
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))):])
            i += 1
        language, _, rest = info.partition(" ")
        blocks.append(Block(f"{path.relative_to(root)}:{start + 1}", language.lower(), rest.strip(), "\n".join(body) + "\n"))
        i += 1
    return blocks


def prose_lines(path: Path):
    """(line number, line) outside fenced blocks, with inline code spans blanked."""
    inside = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = FENCE.match(line)
        if inside is None and match and not (match["fence"][0] == "`" and "`" in match["info"]):
            inside = match["fence"]
            continue
        if inside is not None:
            if match and match["fence"][0] == inside[0] and len(match["fence"]) >= len(inside) and not match["info"].strip():
                inside = None
            continue
        yield number, re.sub(r"(`+)(?:(?!\1).)+?\1", lambda m: " " * len(m.group(0)), line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower-cased, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"(\*\*|__|\*|_)(\S(?:.*?\S)?)\1", r"\2", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    found, seen = set(), {}
    for _, line in prose_lines(path):
        if match := HEADING.match(line):
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(HTML_ANCHOR.findall(line))
    return found


# ---- links ----

def check_links(root: Path, report: Report) -> None:
    files = doc_files(root) + ([root / "ARCHITECTURE.md"] if (root / "ARCHITECTURE.md").exists() else [])
    anchors: dict[Path, set[str]] = {}
    for path in files:
        for number, line in prose_lines(path):
            targets = LINK.findall(line)
            if match := REFERENCE.match(line):
                targets.append(match.group(1))
            for target in targets:
                report.links += 1
                where = f"{path.relative_to(root)}:{number}"
                problem = link_problem(root, path, target, anchors)
                if problem == "pending":
                    report.pending_links.append(f"{where}: {target}")
                elif problem:
                    report.failed.append((where, f"link {target}: {problem}"))


def link_problem(root: Path, source: Path, target: str, anchors: dict[Path, set[str]]) -> str | None:
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, https:, mailto:
        return None
    file_part, _, anchor = target.partition("#")
    destination = (source.parent / urllib.parse.unquote(file_part)).resolve() if file_part else source
    try:
        relative = destination.relative_to(root.resolve()).as_posix()
    except ValueError:
        return "points outside the repository"
    if not destination.exists():
        if any((relative + "/").startswith(folder) for folder in PENDING_FOLDERS) and not (root / PENDING_FOLDERS[0]).exists():
            return "pending"
        return f"{relative} does not exist"
    if anchor:
        if destination.is_dir() or destination.suffix != ".md":
            return f"an anchor into {relative}, which is not a Markdown file"
        if destination not in anchors:
            anchors[destination] = anchors_of(destination)
        if urllib.parse.unquote(anchor) not in anchors[destination]:
            return f"{relative} has no heading with the anchor #{anchor}"
    return None


# ---- running ----

def make_tools(folder: Path, roster: Path | None) -> Path:
    """A bin folder with the guarded curl and, when given, roster."""
    tools = folder / "bin"
    tools.mkdir(parents=True)
    curl = shutil.which("curl")
    if curl is None:
        raise RuntimeError("curl is not installed")
    (tools / "curl").write_text(CURL_WRAPPER.replace("__CURL__", shlex.quote(curl)))
    (tools / "curl").chmod(0o755)
    if roster is not None:
        (tools / "roster").write_text(ROSTER_WRAPPER.replace("__ROSTER__", shlex.quote(str(roster.resolve()))))
        (tools / "roster").chmod(0o755)
    return tools


def base_environment(tools: Path, home: Path, variables: dict[str, str]) -> dict[str, str]:
    return {"PATH": f"{tools}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(home), "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "TERM": "dumb", "NO_PROXY": "127.0.0.1,localhost,::1", "no_proxy": "127.0.0.1,localhost,::1",
            **variables}


def console_commands(text: str) -> str:
    """The `$ ` lines of a console block (and their backslash continuations)."""
    commands, continuing = [], False
    for line in text.splitlines():
        if continuing or line.startswith("$ "):
            command = line if continuing else line[2:]
            commands.append(command)
            continuing = command.rstrip().endswith("\\")
    return "\n".join(commands) + "\n"


KEPT_OUT = re.compile(r"^declare -\S*r|^declare -\S* (BASH\w*|SHELLOPTS|BASHOPTS|PWD|OLDPWD|SHLVL|_)=")


def run_block(block: Block, folder: Path, state: Path, env: dict[str, str], timeout: float) -> tuple[bool, str]:
    """Runs one shell block in a fresh bash that starts from `state`; on success `state` holds what it left."""
    code = console_commands(block.text) if block.language in CONSOLE else block.text
    script = folder / "block.sh"
    after = folder / "state.after"
    script.write_text(
        f"set -a\nsource {shlex.quote(str(state))}\nset -euo pipefail\n"
        f"trap 'export -p > {shlex.quote(str(after))}' EXIT\n"
        f"{code}")
    proc = subprocess.Popen(["bash", "--noprofile", "--norc", str(script)], cwd=folder / "work", env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        verdict = None if proc.returncode == 0 else f"exited {proc.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        verdict = f"ran past its {timeout:g} s"
    finally:
        try:  # anything the block left running in the background: its process group only
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    text = output.decode("utf-8", errors="replace")
    if verdict is None and after.exists():
        state.write_text("".join(line + "\n" for line in after.read_text().splitlines() if not KEPT_OUT.match(line)))
    return verdict is None, (verdict or "") + ("\n" if verdict else "") + text


def check_parsed(block: Block) -> str | None:
    try:
        if block.language == "json":
            json.loads(block.text)
        else:
            import yaml  # PyYAML, pinned in scripts/requirements.txt
            list(yaml.safe_load_all(block.text))
    except Exception as err:  # noqa: BLE001 - any parse error is the finding
        return f"{block.language} does not parse: {err}"
    return None


def run_samples(root: Path, variables: dict[str, str], roster: Path | None, report: Report, say,
                only: list[str] | None = None, timeout: float = BLOCK_TIMEOUT, verbose: bool = False) -> None:
    files = doc_files(root)
    if only:
        files = [f for f in files if f.name == "README.md" and f.parent == root
                 or any(str(f.relative_to(root)).startswith(o) for o in only)]
    scratch = Path(tempfile.mkdtemp(prefix="roster-docs-samples-"))
    try:
        tools = make_tools(scratch, roster)
        home = scratch / "home"
        home.mkdir()
        env = base_environment(tools, home, variables)
        for path in files:
            folder = scratch / "files" / str(path.relative_to(root)).replace("/", "__")
            (folder / "work").mkdir(parents=True)
            state = folder / "state"
            state.write_text("")
            stopped = None
            for block in blocks_of(root, path):
                stopped = run_one(block, folder, state, env, report, say, stopped, timeout, verbose)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_one(block: Block, folder: Path, state: Path, env: dict[str, str], report: Report, say, stopped: str | None,
            timeout: float, verbose: bool = False) -> str | None:
    """Checks one block; returns where its file stopped (the first failed shell block), if it has."""
    language, info = block.language, block.info
    if not language:
        report.failed.append((block.where, "a block without an info string: say what it is (sh, json, yaml, text, or `sh no-run: why`)"))
        return stopped
    if info.startswith("no-run"):
        match = NO_RUN.match(info)
        if match and match["why"]:
            report.skipped.append((block.where, match["why"]))
        else:
            report.failed.append((block.where, "`no-run` needs a reason: `no-run: why`"))
        return stopped
    if info:
        report.failed.append((block.where, f"unknown words after the language: {info!r} (only `no-run: why` is understood)"))
        return stopped
    if language in SHOWN:
        report.shown.append(block.where)
    elif language in PARSED:
        problem = check_parsed(block)
        if problem:
            report.failed.append((block.where, problem))
        else:
            report.checked.append(block.where)
    elif language in SHELLS | CONSOLE:
        if stopped:
            report.not_reached.append(f"{block.where} (after the failure at {stopped})")
            return stopped
        ok, output = run_block(block, folder, state, env, timeout)
        if ok:
            report.passed.append(block.where)
            say(f"ok: {block.where}")
            if verbose:
                print(output.rstrip(), flush=True)
        else:
            report.failed.append((block.where, output.strip()[-3000:]))
            report.failed_runs += 1
            say(f"FAILED: {block.where}")
            return block.where
    else:
        report.failed.append((block.where, f"the language {language!r} is neither run nor parsed here: "
                                           f"use sh, json, yaml or text, or mark it `{language} no-run: why`"))
    return stopped


def summary(report: Report, say, samples: bool = True) -> None:
    say(f"links: {report.links} checked, {len(report.pending_links)} pending (docs/idp/ is written on another branch)")
    for item in report.pending_links:
        say(f"  pending: {item}")
    if not samples:
        for where, what in report.failed:
            say(f"FAIL {where}: {what}")
        return
    say(f"samples: {len(report.passed) + report.failed_runs} run, {len(report.passed)} passed, {report.failed_runs} failed; "
        f"{len(report.checked)} JSON/YAML parsed; {len(report.shown)} text (shown output, nothing to run); "
        f"{len(report.skipped)} skipped; {len(report.not_reached)} not reached")
    for where, why in report.skipped:
        say(f"  skipped {where}: {why}")
    for item in report.not_reached:
        say(f"  not reached: {item}")
    for where, what in report.failed:
        say(f"FAIL {where}: {what}")


def check_doc_samples(roster: Path, origin: str, admin_key: str, scim_token: str, database_url: str, secret_key: str,
                      say, failures: list[str], only: list[str] | None = None, verbose: bool = False) -> None:
    """The samples and links of README.md and docs/ against a live roster dev (scripts/blackbox.py calls this)."""
    host = urllib.parse.urlsplit(origin).hostname
    if host not in LOOPBACK:
        failures.append(f"docs samples: {origin} is not loopback; they run against a local roster dev only")
        return
    from webhook_check import Receiver  # noqa: PLC0415 - blackbox's receiver, on loopback

    report = Report()
    check_links(ROOT, report)
    receiver = Receiver()
    receiver.start()
    try:
        variables = {"ROSTER_URL": origin, "ROSTER_ADMIN_KEY": admin_key, "SCIM_TOKEN": scim_token,
                     "ROSTER_DATABASE_URL": database_url, "ROSTER_SECRET_KEY": secret_key, "WEBHOOK_URL": receiver.url}
        run_samples(ROOT, variables, roster, report, say, only, verbose=verbose)
    finally:
        receiver.stop()
    say(f"the samples' webhook receiver got {len(receiver.requests)} deliveries")
    summary(report, say)
    failures.extend(f"docs: {where}: {what.splitlines()[0] if what else ''}" for where, what in report.failed)



# ---- self-test ----

SELF_TEST_FILES = {
    # name: (markdown, the failures expected, as (line, words in the message))
    "README.md": ("```sh\nexport GREETING=hello\ncount=1\n```\n\n```sh\ntest \"$GREETING $count\" = 'hello 1'\n```\n", []),
    "docs/fails.md": ("```sh\necho before\nfalse\necho after\n```\n\n```sh\necho never\n```\n", [(1, "exited 1")]),
    "docs/unset.md": ("```sh\necho \"$NO_SUCH_VARIABLE\"\n```\n", [(1, "unbound variable")]),
    "docs/pipe.md": ("```sh\nfalse | cat\n```\n", [(1, "exited 1")]),
    "docs/http-error.md": ("```sh\ncurl -s \"$ROSTER_URL/ok\"\n```\n\n```sh\ncurl -s \"$ROSTER_URL/missing\"\n```\n", [(5, "exited 22")]),
    "docs/outside.md": ("```sh\ncurl -s https://example.com/\n```\n", [(1, "loopback only")]),
    "docs/slow.md": ("```sh\nsleep 30\n```\n", [(1, "ran past")]),
    "docs/bad-json.md": ("```json\n{\"a\": 1,}\n```\n\n```json\n{\"a\": [1, \"…\"]}\n```\n", [(1, "json does not parse")]),
    "docs/bad-yaml.md": ("```yaml\na: [1, 2\n```\n\n```yaml\na: {b: 1}\n```\n", [(1, "yaml does not parse")]),
    "docs/unmarked.md": ("```\nwhat is this\n```\n", [(1, "without an info string")]),
    "docs/no-reason.md": ("```sh no-run\nrm -rf /\n```\n\n```sh no-run: destroys things\nrm -rf /\n```\n", [(1, "needs a reason")]),
    "docs/other-language.md": ("```swift\nprint(1)\n```\n", [(1, "neither run nor parsed")]),
    "docs/console.md": ("```console\n$ echo one \\\n    two\none two\n$ true\n```\n", []),
    "docs/links.md": ("# Links\n\n## A section\n\n[ok](#a-section), [ok](fails.md), [bad](#no-such), [bad](gone.md),"
                      " [bad](fails.md#nowhere), [pending](idp/README.md), `[code](not-a-link.md)`\n",
                      [(5, "#no-such"), (5, "gone.md does not exist"), (5, "#nowhere")]),
}


class Stub(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        status = 200 if self.path == "/ok" else 404
        body = b'{"ok": true}' if status == 200 else b'{"error": "not found"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def self_test() -> int:
    """A repository of broken samples and links: each must fail the run, and nothing else may."""
    say = lambda message: print(f"docs_samples self-test: {message}", flush=True)  # noqa: E731
    root = Path(tempfile.mkdtemp(prefix="roster-docs-self-test-"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    problems = []
    try:
        for name, (text, _) in SELF_TEST_FILES.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        report = Report()
        check_links(root, report)
        run_samples(root, {"ROSTER_URL": f"http://127.0.0.1:{server.server_address[1]}"}, None, report,
                    lambda message: None, timeout=3)
        expected = {(f"{name}:{line}", words) for name, (_, cases) in SELF_TEST_FILES.items() for line, words in cases}
        for where, words in sorted(expected):
            if any(w == where and words in what for w, what in report.failed):
                say(f"caught at {where}: {words}")
            else:
                problems.append(f"not caught at {where}: {words}")
        for where, what in report.failed:
            if not any(where == w and words in what for w, words in expected):
                problems.append(f"wrongly failed at {where}: {what.splitlines()[0]}")
        wanted_passes = {"README.md:1", "README.md:6", "docs/http-error.md:1", "docs/console.md:1"}
        if not wanted_passes <= set(report.passed):
            problems.append(f"expected to pass: {sorted(wanted_passes - set(report.passed))}; passed {report.passed}")
        if report.not_reached != ["docs/fails.md:7 (after the failure at docs/fails.md:1)"]:
            problems.append(f"expected the block after a failure to be not reached, got {report.not_reached}")
        if [w for w, _ in report.skipped] != ["docs/no-reason.md:5"]:
            problems.append(f"expected one skipped block, got {report.skipped}")
        if report.pending_links != ["docs/links.md:5: idp/README.md"]:
            problems.append(f"expected one pending link, got {report.pending_links}")
        if sorted(report.checked) != ["docs/bad-json.md:5", "docs/bad-yaml.md:5"]:
            problems.append(f"expected the two valid JSON/YAML blocks to be checked, got {report.checked}")
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(root, ignore_errors=True)
    for problem in problems:
        say(f"FAIL: {problem}")
    say(f"{sum(len(cases) for _, cases in SELF_TEST_FILES.values())} broken samples and links, {len(problems)} problems")
    return 1 if problems else 0


# ---- on its own ----

def standalone(roster: Path, port: int, only: list[str] | None, verbose: bool) -> int:
    """Starts a roster dev as scripts/blackbox.py does, runs the samples against it, stops it."""
    import blackbox  # noqa: PLC0415 - blackbox imports this module too

    signal.signal(signal.SIGTERM, blackbox.on_signal)
    signal.signal(signal.SIGALRM, blackbox.on_signal)
    signal.alarm(blackbox.WATCHDOG)
    failures: list[str] = []
    proc = banner = None
    try:
        proc, readers, lines = blackbox.start_dev(roster, port)
        banner = blackbox.read_banner(proc, lines)
        check_doc_samples(roster, blackbox.origin_of(banner), banner.admin_key, banner.token, banner.database_url,
                          banner.secret_key, blackbox.say, failures, only, verbose)
        blackbox.stop_roster(proc, banner, failures)
    except (blackbox.Fail, blackbox.Interrupted) as err:
        failures.append(str(err))
    finally:
        signal.alarm(0)
        blackbox.cleanup(proc, banner)
    for failure in failures:
        blackbox.say(f"FAIL: {failure}")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roster", help="path to the roster executable: start a roster dev and run the samples")
    parser.add_argument("--port", type=int, default=18090, help="port for that roster dev (default: 18090)")
    parser.add_argument("--only", action="append", help="run only the files under this path (README.md always runs first)")
    parser.add_argument("--verbose", action="store_true", help="print what each sample printed, not only a failed one's")
    parser.add_argument("--links", action="store_true", help="check the links only")
    parser.add_argument("--self-test", action="store_true", help="show that broken samples and links fail")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    if args.links:
        report = Report()
        check_links(ROOT, report)
        summary(report, lambda message: print(f"docs_samples: {message}", flush=True), samples=False)
        return 1 if report.failed else 0
    if not args.roster:
        parser.error("give --roster, --links or --self-test")
    return standalone(Path(args.roster), args.port, args.only, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
