#!/usr/bin/env python3
"""What each module may import, and where SQL may be written: ARCHITECTURE.md's arrows, checked.

Usage: python3 scripts/import_check.py [--sources Sources]   check; exit 1 and list every breach
       python3 scripts/import_check.py --self-test           show that each rule catches a breach

Rules (Tests/ is not checked; RosterTestSupport drives the server and the database, and may use both):
1. Roster's own modules depend one way: a module imports only the Roster modules listed for it below.
2. SCIM (the protocol) imports Foundation and the standard library only.
3. PostgresNIO (and its connection pool) only in RosterStore and RosterTestSupport.
4. The HTTP framework (Hummingbird*, OpenAPIHummingbird) only in RosterServer and RosterTestSupport.
   HummingbirdBcrypt is the bcrypt hash alone (RosterAuth checks passwords with it), not the framework.
5. SQL text (a statement in code, not in a comment) only in RosterStore; migrations live in sql/.
6. PostgresNIO stays inside RosterStore: no `public import` (or `@_exported import`) of it there, so no public
   declaration can hand a PostgresNIO type to another module (`package` is for the tests and test support).
7. Every target in Package.swift builds with `swiftSettings: strict` (internal imports by default, member import
   visibility, `any` for existentials), which is what makes rules 3 and 6 hold for declarations, not just imports.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

STANDARD = {"Foundation", "FoundationEssentials", "Swift", "Synchronization", "Dispatch", "Glibc", "Musl", "Darwin", "_Concurrency"}

# Rule 1: the Roster modules each module may import.
ARROWS = {
    "SCIM": set(),
    "RosterOutbound": set(),
    "RosterEmbeddedPostgres": set(),
    # The store persists RosterAuth's identity model; RosterAuth decides and never sees the store.
    "RosterStore": {"SCIM", "RosterAuth"},
    "RosterAuth": {"SCIM", "RosterOutbound"},
    "RosterFeed": {"SCIM", "RosterStore", "RosterOutbound"},
    "RosterServer": {"SCIM", "RosterStore", "RosterAuth", "RosterFeed", "RosterOutbound"},
    "roster": {"SCIM", "RosterStore", "RosterAuth", "RosterFeed", "RosterOutbound", "RosterServer", "RosterEmbeddedPostgres"},
    "RosterTestSupport": {"SCIM", "RosterStore", "RosterAuth", "RosterEmbeddedPostgres"},
}
ROSTER_MODULES = set(ARROWS)
POSTGRES = {"PostgresNIO", "_ConnectionPoolModule"}
POSTGRES_ALLOWED = {"RosterStore", "RosterTestSupport"}
HTTP_FRAMEWORK = re.compile(r"^(Hummingbird(?!Bcrypt$)\w*|OpenAPIHummingbird)$")
HTTP_ALLOWED = {"RosterServer", "RosterTestSupport"}
SQL_ALLOWED = {"RosterStore"}

IMPORT = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:public\s+|package\s+|internal\s+|private\s+|fileprivate\s+)?import\s+"
                    r"(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?([A-Za-z_][A-Za-z0-9_]*)")
SQL = re.compile(r"\b(SELECT\b[^;]*?\bFROM\b|SELECT\s+\d+\s*\x22|INSERT\s+INTO\b|UPDATE\s+[a-z_]+\s+(?:[a-z]\s+)?SET\b|DELETE\s+FROM\b|"
                 r"CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\b|ALTER\s+TABLE\b|ON\s+CONFLICT\b|RETURNING\s+[a-z_*]|FOR\s+UPDATE\b)")


def code_lines(text: str):
    """(line number, line) of code, with comments removed (// to the end of a line, /* ... */)."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    for number, line in enumerate(text.splitlines(), 1):
        # A `//` inside a string literal (a URL) is not a comment: cut only at `//` outside quotes.
        quoted, cut = False, len(line)
        for index, char in enumerate(line):
            if char == '"' and (index == 0 or line[index - 1] != "\\"):
                quoted = not quoted
            elif not quoted and line.startswith("//", index):
                cut = index
                break
        yield number, line[:cut]


def check(sources: Path) -> list[str]:
    breaches: list[str] = []
    for module_dir in sorted(p for p in sources.iterdir() if p.is_dir()):
        module = module_dir.name
        if module not in ARROWS:
            breaches.append(f"{module}: a module the architecture does not name (add it to ARROWS and ARCHITECTURE.md)")
            continue
        for file in sorted(module_dir.rglob("*.swift")):
            where = file.relative_to(sources.parent)
            for number, line in code_lines(file.read_text()):
                found = IMPORT.match(line)
                if found:
                    name = found.group(1)
                    if name in ROSTER_MODULES and name not in ARROWS[module]:
                        breaches.append(f"{where}:{number}: {module} may not import {name} (rule 1: the arrows)")
                    if module == "SCIM" and name not in STANDARD:
                        breaches.append(f"{where}:{number}: SCIM imports Foundation only, not {name} (rule 2)")
                    if name in POSTGRES and module not in POSTGRES_ALLOWED:
                        breaches.append(f"{where}:{number}: {name} only in RosterStore (rule 3), not in {module}")
                    if name in POSTGRES and module == "RosterStore" and re.match(r"^\s*(?:@_exported\s+|public\s+)", line):
                        breaches.append(f"{where}:{number}: {name} may not be imported publicly (rule 6: it stays inside RosterStore)")
                    if HTTP_FRAMEWORK.match(name) and module not in HTTP_ALLOWED:
                        breaches.append(f"{where}:{number}: {name} only in RosterServer (rule 4), not in {module}")
                    continue
                if module not in SQL_ALLOWED and module != "RosterTestSupport":
                    statement = SQL.search(line)
                    if statement:
                        breaches.append(f"{where}:{number}: SQL outside RosterStore (rule 5): {statement.group(0)[:40]!r}")
    return breaches


TARGET = re.compile(r"\.(?:target|testTarget|executableTarget)\(\s*name:\s*\"([^\"]+)\"")


def check_manifest(text: str) -> list[str]:
    """Rule 7: each target declared in Package.swift has `swiftSettings: strict`."""
    starts = [(m.start(), m.group(1)) for m in TARGET.finditer(text)]
    breaches = []
    for index, (start, name) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
        if "swiftSettings: strict" not in text[start:end]:
            breaches.append(f"Package.swift: target {name} lacks 'swiftSettings: strict' (rule 7)")
    return breaches


# Each case: (module, file text to add, what the report must say).
SELF_TEST = [
    ("RosterStore", "import RosterServer\n", "RosterStore may not import RosterServer"),
    ("RosterFeed", "import RosterAuth\n", "RosterFeed may not import RosterAuth"),
    ("RosterAuth", "import RosterStore\n", "RosterAuth may not import RosterStore"),
    ("RosterServer", "import RosterEmbeddedPostgres\n", "RosterServer may not import RosterEmbeddedPostgres"),
    ("SCIM", "import Logging\n", "SCIM imports Foundation only, not Logging"),
    ("SCIM", "import RosterStore\n", "SCIM may not import RosterStore"),
    ("RosterServer", "import PostgresNIO\n", "PostgresNIO only in RosterStore"),
    ("RosterFeed", "@preconcurrency import PostgresNIO\n", "PostgresNIO only in RosterStore"),
    ("RosterAuth", "public import _ConnectionPoolModule\n", "_ConnectionPoolModule only in RosterStore"),
    ("RosterStore", "public import PostgresNIO\n", "may not be imported publicly"),
    ("RosterStore", "@_exported import PostgresNIO\n", "may not be imported publicly"),
    ("RosterFeed", "import HummingbirdCore\n", "HummingbirdCore only in RosterServer"),
    ("roster", "import Hummingbird\n", "Hummingbird only in RosterServer"),
    ("RosterAuth", 'let q = "SELECT id FROM users WHERE tenant_id = $1"\n', "SQL outside RosterStore"),
    ("RosterServer", '    """\n    UPDATE webhook_subscriptions SET paused_at = now()\n', "SQL outside RosterStore"),
    ("RosterFeed", '    "DELETE FROM events WHERE pos = $1"\n', "SQL outside RosterStore"),
    ("RosterServer", '    "INSERT INTO tenants (id) VALUES ($1) ON CONFLICT DO NOTHING"\n', "SQL outside RosterStore"),
    ("RosterServer", '    try await database.query("SELECT 1")\n', "SQL outside RosterStore"),
]
# Text that must not be reported.
SELF_TEST_CLEAN = [
    ("RosterAuth", "import HummingbirdBcrypt\n"),
    ("RosterStore", "import RosterAuth\n"),
    ("RosterStore", "package import PostgresNIO\n"),
    ("RosterFeed", "// SELECT id FROM events: the reader's statement, described\n"),
    ("RosterServer", "/* INSERT INTO is the store's business */\n"),
    ("RosterServer", 'let message = "Select the tenant from the list"\n'),
    ("RosterStore", 'let q = "SELECT id FROM users"\n'),
]


def breaches_of(sources: Path, module: str, text: str) -> list[str]:
    """What the check reports about one file holding `text`, added to `module` in a copy of the tree."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "Sources"
        shutil.copytree(sources, copy)
        (copy / module / "ZZSelfTest.swift").write_text(text)
        return [b for b in check(copy) if "ZZSelfTest.swift" in b]


def self_test(sources: Path) -> int:
    failures = []
    for module, text, expected in SELF_TEST:
        found = breaches_of(sources, module, text)
        if any(expected in b for b in found):
            print(f"import_check self-test: caught {text.strip()[:60]!r} in {module}")
        else:
            failures.append(f"not caught: {text.strip()!r} in {module} (expected {expected!r}; got {found})")
    for module, text in SELF_TEST_CLEAN:
        found = breaches_of(sources, module, text)
        if found:
            failures.append(f"wrongly reported: {text.strip()!r} in {module}: {found}")
    manifest = '.target(name: "A", swiftSettings: strict),\n.testTarget(\n    name: "ATests",\n    dependencies: ["A"]\n),\n'
    found = check_manifest(manifest)
    if found == ["Package.swift: target ATests lacks 'swiftSettings: strict' (rule 7)"]:
        print("import_check self-test: caught a target without strict settings in Package.swift")
    else:
        failures.append(f"manifest rule: expected only ATests reported, got {found}")
    for failure in failures:
        print(f"import_check self-test: {failure}")
    print(f"import_check self-test: {len(SELF_TEST)} breaches, {len(SELF_TEST_CLEAN)} clean texts, {len(failures)} failures")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=str(Path(__file__).resolve().parent.parent / "Sources"))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    sources = Path(args.sources)
    if args.self_test:
        return self_test(sources)
    breaches = check(sources) + check_manifest((sources.parent / "Package.swift").read_text())
    for breach in breaches:
        print(f"import_check: {breach}")
    print(f"import_check: {len(breaches)} breaches of ARCHITECTURE.md's rules")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
