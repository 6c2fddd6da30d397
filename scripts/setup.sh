# Installs what Roster's two README commands need when it is missing, saying so first.
# Sourced by scripts/dev and scripts/test; each `need_*` does nothing when its tool is present.
# On a fresh Debian machine with only Swift: as root it installs directly, otherwise through sudo.

setup_say() { echo "setup: $*" >&2; }

# Runs a command as root: directly when we are root, else through sudo (which may ask for a password).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    setup_say "cannot run '$*': not root and no sudo; run it as root, then this command again"
    return 1
  fi
}

apt_updated=""
apt_install() {
  setup_say "installing $* with apt-get"
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# The Swift toolchain, when it sits in /opt/swift but not on PATH (CI images).
need_swift() {
  if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="$PATH:/opt/swift/usr/bin"
  fi
  command -v swift >/dev/null 2>&1 || { setup_say "swift is not installed (https://www.swift.org/install/linux/)"; return 1; }
}

have_initdb() {
  command -v initdb >/dev/null 2>&1 && return 0
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    return 0
  fi
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

# PostgreSQL's server binaries: `roster dev` and the Swift tests start a throwaway cluster with initdb.
need_postgres() {
  if ! have_initdb; then
    setup_say "PostgreSQL's server binaries (initdb) are missing: installing Debian's postgresql"
    apt_install postgresql
    have_initdb || { setup_say "initdb is still missing after installing postgresql"; return 1; }
  fi
  # initdb refuses to run as root: as root, the throwaway cluster runs as the `postgres` account.
  if [ "$(id -u)" -eq 0 ] && ! id -u postgres >/dev/null 2>&1; then
    setup_say "creating the postgres account (root runs the throwaway cluster as it)"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
}

# Debian's pgbouncer: scripts/pooler_check.py runs `roster serve` behind it, in session and in transaction mode.
# The package's own service is not started (no systemd here, and the check starts its own pgbouncer on loopback).
need_pgbouncer() {
  if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    setup_say "pgbouncer is missing (the PgBouncer check needs it): installing Debian's pgbouncer"
    apt_install pgbouncer
  fi
}

# Headless chromium: scripts/docs_check.py tests /api/docs in a real browser; scripts/console_check.py drives the
# admin console and the setup portal through chromium-driver (selenium).
need_chromium() {
  if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    setup_say "chromium is missing (the /api/docs browser test needs it): installing Debian's chromium"
    apt_install chromium
  fi
  if ! command -v chromedriver >/dev/null 2>&1; then
    setup_say "chromedriver is missing (the console's browser test drives chromium with it): installing Debian's chromium-driver"
    apt_install chromium-driver
  fi
}

# curl and jq: the docs samples (scripts/docs_samples.py) send requests with curl and read answers with jq.
need_curl_jq() {
  local missing=()
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v jq >/dev/null 2>&1 || missing+=(jq)
  if [ ${#missing[@]} -gt 0 ]; then
    setup_say "${missing[*]} missing (the docs samples use them): installing Debian's ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

# True when this python3 has every pinned package of scripts/requirements.txt at its pinned version.
python_tools_current() {
  "$1" - "$2" <<'PY' 2>/dev/null
import re, sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    match = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^]]*\])?==(\S+)", line)
    if not match:
        continue
    try:
        if version(match.group(1)) != match.group(3):
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
}

# The pinned Python tools (scim2-tester, schemathesis, ...): used from the python3 on PATH when it has them,
# else installed into a virtual environment under .build (Debian's own python3 refuses system-wide pip installs).
need_python_tools() {
  local requirements="$1" venv="$2"
  command -v python3 >/dev/null 2>&1 || apt_install python3
  if python_tools_current python3 "$requirements"; then
    return 0
  fi
  if [ -x "$venv/bin/python3" ] && python_tools_current "$venv/bin/python3" "$requirements"; then
    export PATH="$venv/bin:$PATH"
    return 0
  fi
  setup_say "the pinned Python tools are missing or differ: installing scripts/requirements.txt into $venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/python3" -m pip install --disable-pip-version-check -q -r "$requirements"
  export PATH="$venv/bin:$PATH"
}
