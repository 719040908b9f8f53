#!/usr/bin/env bash
# compose-check: validates docker-compose.yml without a Docker engine (`make compose-check`).
#   1. `docker-compose config -q` with an env file made from .env.example (works on a fresh clone,
#      where .env does not exist), with and without the optional profiles;
#   2. negative checks proving the validator is real: the same file with a misspelt depends_on
#      condition, and a missing env file, must both FAIL (an identical copy validated the same way
#      must pass, so the failure comes from the mutation alone);
#   3. structural checks on the rendered model (Python): the five services have a /readyz
#      healthcheck, depends_on with conditions, loopback-only ports; no MinIO or Grafana image;
#      pinned tags. The checker is itself run on a broken model and must reject it;
#   4. sanity of deploy/docker/Dockerfile, prometheus.yml and .dockerignore.
# One line per check; exit status 1 if any check failed, 2 if a needed tool is missing.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
cd "$ROOT" || exit 2

COMPOSE_FILE=docker-compose.yml
SERVICES=(intake upstream liveness exporter metering)
BINARIES=(shiren-intake shiren-upstream shiren-liveness shiren-exporter shiren-metering shirenctl)

fails=0
ok() { printf 'ok   - %s\n' "$*"; }
bad() {
	printf 'FAIL - %s\n' "$*"
	fails=$((fails + 1))
}
# show the first lines of a command's output under a failed check
show() { sed -n '1,15p' "$1" | sed 's/^/       | /'; }

# ---- tools ----
if command -v docker-compose >/dev/null 2>&1; then
	COMPOSE=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
	COMPOSE=(docker compose)
else
	echo "compose-check: neither docker-compose nor the docker compose plugin is installed" >&2
	echo "               (Debian: apt-get install docker-compose)" >&2
	exit 2
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "compose-check: python3 with PyYAML is needed (Debian: apt-get install python3-yaml)" >&2
	exit 2
fi
[ -f "$COMPOSE_FILE" ] || { bad "$COMPOSE_FILE exists"; exit 1; }
[ -f .env.example ] || { bad ".env.example exists"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/compose-check.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
# The env file the services would get, made from the committed example; used both for ${...}
# interpolation (--env-file) and as the services' env_file (SHIREN_ENV_FILE).
cp .env.example "$TMP/env"

# compose FILE ENVFILE [args...]: run compose on FILE with the repository as project directory
compose() {
	local file=$1 envf=$2
	shift 2
	SHIREN_ENV_FILE="$envf" "${COMPOSE[@]}" --project-directory "$ROOT" -f "$file" \
		--env-file "$envf" "$@"
}

echo "compose-check: $("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -n1)"

# ---- 1. positive validation ----
if compose "$COMPOSE_FILE" "$TMP/env" config -q >"$TMP/out" 2>&1; then
	ok "docker-compose config -q accepts $COMPOSE_FILE (env from .env.example)"
else
	bad "docker-compose config -q rejects $COMPOSE_FILE"
	show "$TMP/out"
fi
if compose "$COMPOSE_FILE" "$TMP/env" --profile observability --profile tools config -q >"$TMP/out" 2>&1; then
	ok "docker-compose config -q accepts it with profiles observability and tools"
else
	bad "docker-compose config -q rejects it with profiles observability and tools"
	show "$TMP/out"
fi
if grep -qE '^name:' "$COMPOSE_FILE"; then
	bad "no top-level name: key (docker-compose 1.29 rejects it; use COMPOSE_PROJECT_NAME)"
else
	ok "no top-level name: key"
fi

# ---- 2. negative checks: the validator must catch real mistakes ----
cp "$COMPOSE_FILE" "$TMP/same.yml"
if compose "$TMP/same.yml" "$TMP/env" config -q >"$TMP/out" 2>&1; then
	ok "control: an identical copy validated from a temporary path passes"
else
	bad "control: an identical copy validated from a temporary path fails (negative checks meaningless)"
	show "$TMP/out"
fi

sed '0,/condition: service_healthy/s//condition: service_healty/' "$COMPOSE_FILE" >"$TMP/misspelt.yml"
if cmp -s "$COMPOSE_FILE" "$TMP/misspelt.yml"; then
	bad "negative: could not make the misspelt copy (no 'condition: service_healthy' found)"
elif compose "$TMP/misspelt.yml" "$TMP/env" config -q >"$TMP/out" 2>&1; then
	bad "negative: a copy with 'condition: service_healty' PASSED validation (validator is not real)"
elif grep -q 'service_healty' "$TMP/out"; then
	ok "negative: a copy with 'condition: service_healty' is rejected, naming the bad condition"
else
	bad "negative: the misspelt copy failed, but not because of the condition"
	show "$TMP/out"
fi

# the services' env_file missing (interpolation still fed): what a fresh clone without .env hits
if SHIREN_ENV_FILE="$TMP/no-such-env" "${COMPOSE[@]}" --project-directory "$ROOT" -f "$COMPOSE_FILE" \
	--env-file "$TMP/env" config -q >"$TMP/out" 2>&1; then
	bad "negative: a missing env_file PASSED validation"
elif grep -q 'no-such-env' "$TMP/out"; then
	ok "negative: a missing env_file is rejected, naming the file"
else
	bad "negative: the missing env_file check failed for another reason"
	show "$TMP/out"
fi

# ---- 3. structural checks on the rendered model ----
cat >"$TMP/check.py" <<'PY'
"""Checks a rendered compose model (YAML from `config`). Prints one line per check; exit 1 on failure."""
import re
import sys

import yaml

ADMIN = {"intake": 9101, "upstream": 9102, "liveness": 9103, "exporter": 9104, "metering": 9105}
BASE_DEPS = {"postgres": "service_healthy", "kafka": "service_healthy",
             "migrate": "service_completed_successfully"}
FORBIDDEN = ("minio", "grafana")

model = yaml.safe_load(open(sys.argv[1]))
services = model.get("services") or {}
fails = 0


def check(cond, msg):
    global fails
    print(("ok   - " if cond else "FAIL - ") + msg)
    if not cond:
        fails += 1


def hc_test(svc):
    t = (svc.get("healthcheck") or {}).get("test")
    if isinstance(t, list):
        return " ".join(str(x) for x in t)
    return t or ""


def env_of(svc):
    e = svc.get("environment") or {}
    if isinstance(e, list):
        e = dict(x.split("=", 1) if "=" in x else (x, "") for x in e)
    return e


def port_specs(svc):
    """(host_ip, published) for every published port, short or long syntax."""
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append((p.get("host_ip", ""), str(p.get("published", ""))))
        else:
            parts = str(p).split(":")
            if len(parts) == 3:
                out.append((parts[0], parts[1]))
            else:
                out.append(("", parts[0]))
    return out


for name, port in ADMIN.items():
    svc = services.get(name)
    if svc is None:
        check(False, f"{name}: service present")
        continue
    t = hc_test(svc)
    check(f"/readyz" in t and str(port) in t, f"{name}: healthcheck GETs /readyz on admin port {port}")
    deps = svc.get("depends_on") or {}
    want = dict(BASE_DEPS, **({"s3": "service_healthy"} if name == "exporter" else {}))
    got = {k: (v or {}).get("condition") for k, v in deps.items()} if isinstance(deps, dict) else {}
    check(all(got.get(k) == v for k, v in want.items()),
          f"{name}: depends_on with conditions " + ", ".join(f"{k}={v}" for k, v in want.items()))
    check(svc.get("restart") == "unless-stopped", f"{name}: restart unless-stopped")
    check(env_of(svc).get("SHIREN_ADMIN_ADDR") == f"0.0.0.0:{port}",
          f"{name}: SHIREN_ADMIN_ADDR=0.0.0.0:{port} inside the container")
    check(any(pub == str(port) for _, pub in port_specs(svc)), f"{name}: admin port {port} published")

mig = services.get("migrate") or {}
cmd = mig.get("command")
cmd = " ".join(cmd) if isinstance(cmd, list) else (cmd or "")
check(cmd.strip() == "shirenctl migrate", "migrate: one-shot `shirenctl migrate`")
check(((mig.get("depends_on") or {}).get("postgres") or {}).get("condition") == "service_healthy",
      "migrate: depends_on postgres service_healthy")
check(str(mig.get("restart", "no")) in ("no", "False", "false"), "migrate: not restarted")
check(any(pub == "8900" for _, pub in port_specs(services.get("intake") or {})),
      "intake: public port 8900 published")

for name in ("kafka", "postgres", "s3"):
    check(bool(hc_test(services.get(name) or {})), f"{name}: has a healthcheck")

loopback = all(ip == "127.0.0.1" for s in services.values() for ip, _ in port_specs(s))
check(loopback, "every published port is bound to 127.0.0.1")

images = {n: str(s.get("image", "")) for n, s in services.items()}
bad_img = [f"{n}={i}" for n, i in images.items() if any(f in i.lower() for f in FORBIDDEN)]
check(not bad_img, "no image contains minio or grafana" + (f" (found {', '.join(bad_img)})" if bad_img else ""))
third = {n: i for n, i in images.items() if "build" not in services[n]}
unpinned = [f"{n}={i}" for n, i in third.items()
            if not re.search(r":[^/:]+$", i) or i.endswith(":latest")]
check(not unpinned, "third-party images carry a pinned tag" + (f" (not: {', '.join(unpinned)})" if unpinned else ""))

sys.exit(1 if fails else 0)
PY

if compose "$COMPOSE_FILE" "$TMP/env" --profile observability --profile tools config \
	>"$TMP/model.yml" 2>"$TMP/err"; then
	python3 "$TMP/check.py" "$TMP/model.yml" >"$TMP/py.out" 2>&1
	py_rc=$?
	cat "$TMP/py.out"
	fails=$((fails + $(grep -c '^FAIL' "$TMP/py.out")))
	[ $py_rc = 0 ] || grep -q '^FAIL' "$TMP/py.out" || bad "structural checker crashed (exit $py_rc)"
	# the checker must reject a model with a service's healthcheck removed and a MinIO image added
	python3 - "$TMP/model.yml" "$TMP/broken.yml" <<'PY'
import sys, yaml
m = yaml.safe_load(open(sys.argv[1]))
m["services"]["liveness"].pop("healthcheck", None)
m["services"]["s3"]["image"] = "quay.io/minio/minio:RELEASE.2025-09-06T17-38-46Z"
yaml.safe_dump(m, open(sys.argv[2], "w"))
PY
	if python3 "$TMP/check.py" "$TMP/broken.yml" >"$TMP/py.out" 2>&1; then
		bad "negative: the structural checker accepted a model without liveness's healthcheck and with a MinIO image"
	elif grep -q '^FAIL - liveness: healthcheck' "$TMP/py.out" && grep -q '^FAIL - no image contains minio' "$TMP/py.out"; then
		ok "negative: the structural checker rejects a missing healthcheck and a MinIO image"
	else
		bad "negative: the structural checker failed the broken model for another reason"
		show "$TMP/py.out"
	fi
else
	bad "render the model for the structural checks"
	show "$TMP/err"
fi

# ---- 4. image and side files ----
DF=deploy/docker/Dockerfile
if [ -f "$DF" ]; then
	missing=()
	for b in "${BINARIES[@]}"; do grep -q -- "$b" "$DF" || missing+=("$b"); done
	if [ ${#missing[@]} = 0 ]; then
		ok "Dockerfile mentions every binary (${BINARIES[*]})"
	else
		bad "Dockerfile does not mention: ${missing[*]}"
	fi
	if grep -qE '^FROM debian:12 AS build' "$DF" && grep -qE '^FROM debian:12-slim' "$DF"; then
		ok "Dockerfile: build on debian:12, runtime on debian:12-slim"
	else
		bad "Dockerfile: expected FROM debian:12 AS build and FROM debian:12-slim"
	fi
	if grep -qE '^USER +[^0r]' "$DF" && grep -q 'SHIREN_SQL_DIR=/usr/share/shiren/sql' "$DF"; then
		ok "Dockerfile: non-root USER, SHIREN_SQL_DIR=/usr/share/shiren/sql"
	else
		bad "Dockerfile: non-root USER and SHIREN_SQL_DIR=/usr/share/shiren/sql"
	fi
else
	bad "$DF exists"
fi

PROM=deploy/docker/prometheus.yml
if python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$PROM" 2>/dev/null; then
	missing=()
	for p in 9101 9102 9103 9104 9105; do grep -q "port: $p" "$PROM" || missing+=("$p"); done
	if [ ${#missing[@]} = 0 ]; then
		ok "prometheus.yml parses and scrapes the five admin ports"
	else
		bad "prometheus.yml does not scrape: ${missing[*]}"
	fi
else
	bad "$PROM exists and is valid YAML"
fi

missing=()
for p in build/ var/ .git node_modules; do grep -qF -- "$p" .dockerignore 2>/dev/null || missing+=("$p"); done
if [ ${#missing[@]} = 0 ]; then
	ok ".dockerignore excludes build/, var/, .git and node_modules"
else
	bad ".dockerignore lacks: ${missing[*]}"
fi

if [ $fails = 0 ]; then
	echo "compose-check: all checks passed"
	exit 0
fi
echo "compose-check: $fails check(s) failed"
exit 1
