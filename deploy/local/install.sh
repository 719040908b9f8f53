#!/usr/bin/env bash
# Installs what the project needs on a Debian 12 machine: Debian packages, the Apache Kafka jars
# (Maven), SeaweedFS `weed` (built from the Go module proxy) and the Python test packages.
# Idempotent: a second run checks and returns in about a second. Silent when nothing is to do;
# one line on stderr before each slow step. Downloads live in ${SHIREN_CACHE:-~/.cache/shiren}.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
. "$HERE/lib.sh"

say() { echo "install: $*" >&2; }

DEBIAN_PACKAGES=(
	build-essential pkg-config libevent-dev librdkafka-dev protobuf-c-compiler libprotobuf-c-dev
	libssl-dev libpq-dev postgresql-15 postgresql-client-15 clang clang-format-14
	libclang-rt-14-dev docker-compose kcat curl libcurl4-openssl-dev libjpeg62-turbo-dev libpng-dev libopenblas-dev
	uuid-runtime python3 python3-pip python3-skimage facedetect opencv-doc
	# for the Kafka broker and its jars
	openjdk-17-jre-headless maven
)

mkdir -p "$CACHE"

# ---------------- 1. Debian packages ----------------
missing=()
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${DEBIAN_PACKAGES[@]}" 2>/dev/null || true)
for p in "${DEBIAN_PACKAGES[@]}"; do
	grep -qx "$p ii *" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=()
	[ "$(id -u)" = 0 ] || sudo=(sudo)
	say "apt-get install ${missing[*]}"
	log="$CACHE/apt.log"
	"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq >"$log" 2>&1 || { cat "$log" >&2; die "apt-get update failed"; }
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
		"${missing[@]}" >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "apt-get install failed (log: $log)"; }
fi

# ---------------- 2. Apache Kafka jars ----------------
pom_sum=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
if [ "$(cat "$KAFKA_MARKER" 2>/dev/null)" != "$pom_sum" ]; then
	say "fetching Apache Kafka $KAFKA_VERSION jars into $KAFKA_LIB"
	rm -rf "$KAFKA_LIB" "$KAFKA_MARKER"
	mkdir -p "$KAFKA_LIB"
	log="$CACHE/kafka-$KAFKA_VERSION/mvn.log"
	mvn -B -q -f "$KAFKA_POM" \
		org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB" >"$log" 2>&1 ||
		{ tail -n 40 "$log" >&2; die "maven could not fetch the Kafka jars (log: $log)"; }
	ls "$KAFKA_LIB"/kafka_2.13-"$KAFKA_VERSION".jar "$KAFKA_LIB"/slf4j-simple-*.jar >/dev/null 2>&1 ||
		die "Kafka jars incomplete in $KAFKA_LIB"
	echo "$pom_sum" >"$KAFKA_MARKER"
fi

# ---------------- 3. SeaweedFS weed ----------------
# `go install module/weed@version` is refused (that go.mod has a replace directive), so the
# module is downloaded into the module cache and built in place.
build_weed() {
	command -v go >/dev/null || die "go not found: SeaweedFS needs Go >= 1.26 (see docs/local-stack.md)"
	local dir tmp log="$CACHE/weed-build.log"
	say "building SeaweedFS weed $WEED_VERSION (cold: about 10 minutes on 2 cores)"
	dir=$(go mod download -json "$WEED_MODULE@$WEED_VERSION" 2>"$log" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	if [ -z "$dir" ] || [ ! -d "$dir/weed" ]; then
		cat "$log" >&2
		die "go mod download $WEED_MODULE@$WEED_VERSION failed"
	fi
	mkdir -p "$(dirname "$WEED_BIN")"
	tmp="$WEED_BIN.tmp.$$"
	(cd "$dir" && GOFLAGS=-buildvcs=false go build -o "$tmp" ./weed) >>"$log" 2>&1 ||
		{ rm -f "$tmp"; tail -n 40 "$log" >&2; die "go build of weed failed (log: $log)"; }
	"$tmp" version >/dev/null 2>&1 || { rm -f "$tmp"; die "the built weed does not run"; }
	mv -f "$tmp" "$WEED_BIN"
}
if [ ! -x "$WEED_BIN" ]; then
	# one build at a time (another install.sh, or a build started by hand)
	exec 9>"$CACHE/.weed.lock"
	flock 9
	if [ ! -x "$WEED_BIN" ] && pgrep -f "go build -o $(dirname "$WEED_BIN")" >/dev/null; then
		say "waiting for a running build of $WEED_BIN"
		while pgrep -f "go build -o $(dirname "$WEED_BIN")" >/dev/null; do sleep 5; done
	fi
	[ -x "$WEED_BIN" ] || build_weed
	exec 9>&-
fi

# ---------------- 4. Python test packages ----------------
if ! python3 -c 'import pytest, psycopg, boto3' >/dev/null 2>&1; then
	say "pip install pytest psycopg[binary] boto3"
	pipflags=(-q --disable-pip-version-check)
	# Debian's own python3 is "externally managed" (PEP 668); a pyenv/venv python is not
	if [ -f "$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED" ] &&
		[ -z "${VIRTUAL_ENV:-}" ]; then
		pipflags+=(--user --break-system-packages)
	fi
	python3 -m pip install "${pipflags[@]}" pytest 'psycopg[binary]' boto3 >"$CACHE/pip.log" 2>&1 ||
		{ tail -n 40 "$CACHE/pip.log" >&2; die "pip install failed (log: $CACHE/pip.log)"; }
	python3 -c 'import pytest, psycopg, boto3' || die "python packages still not importable after pip install"
fi
