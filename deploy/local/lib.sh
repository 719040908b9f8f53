# Shared by deploy/local/*.sh (sourced, not run). Paths, versions and the start/stop/ready
# functions of the three servers. Callers set `set -euo pipefail` and HERE (this directory).
# shellcheck disable=SC2034 # the variables here are used by the scripts that source this file

ROOT=$(cd "$HERE/../.." && pwd -P)
VAR="$ROOT/var"
CACHE="${SHIREN_CACHE:-$HOME/.cache/shiren}"

# ---- versions (the Kafka version is read from the pom so a switch is one edit) ----
KAFKA_POM="$HERE/kafka/pom.xml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")
KAFKA_LIB="$CACHE/kafka-$KAFKA_VERSION/lib"
KAFKA_MARKER="$CACHE/kafka-$KAFKA_VERSION/.complete" # holds the sha256 of the pom it was fetched for
KAFKA_CLUSTER_ID=4L6g3nShT-eMCtK--X86sw             # fixed: one local node, formatted once
WEED_MODULE=github.com/seaweedfs/seaweedfs
WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6
WEED_BIN="$CACHE/weed-${WEED_VERSION##*-}/weed"

# ---- addresses and credentials (loopback only) ----
# SHIREN_PORT_OFFSET shifts every port, so a second stack (a CI dry run in another clone) can
# run beside the first.
PORT_OFFSET=${SHIREN_PORT_OFFSET:-0}
case $PORT_OFFSET in '' | *[!0-9]*) echo "SHIREN_PORT_OFFSET must be a number" >&2; exit 1 ;; esac
PG_PORT=$((55432 + PORT_OFFSET))
KAFKA_PORT=$((19092 + PORT_OFFSET))
KAFKA_CONTROLLER_PORT=$((19093 + PORT_OFFSET))
S3_PORT=$((8333 + PORT_OFFSET))
S3_ACCESS_KEY=shiren-local
S3_SECRET_KEY=shiren-local-secret
# weed mini runs more than the S3 gateway; every port is pinned so that a busy one fails the
# start instead of weed silently moving to the next free port. gRPC ports are these + 10000.
WEED_MASTER_PORT=$((9333 + PORT_OFFSET))
WEED_VOLUME_PORT=$((9340 + PORT_OFFSET))
WEED_FILER_PORT=$((8888 + PORT_OFFSET))
WEED_ADMIN_PORT=$((12535 + PORT_OFFSET))

PG_BIN=/usr/lib/postgresql/15/bin
PG_SUPER_DSN="host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres"

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

# pid_of NAME MATCH: the pid recorded in var/NAME/pid if that process is alive and is ours
# (its command line contains MATCH; guards against a reused pid), else empty.
pid_of() {
	local name=$1 match=$2 pid cmd
	[ -s "$VAR/$name/pid" ] || return 0
	pid=$(head -n1 "$VAR/$name/pid")
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 0
	[[ $cmd == *"$match"* ]] || return 0
	echo "$pid"
}

# port_busy PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# stop_pid NAME PID SIGNAL: signal, wait up to 30 s, then KILL. Removes var/NAME/pid.
stop_pid() {
	local name=$1 pid=$2 sig=$3 i
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "${0##*/}: $name (pid $pid) still running after 30 s, sending KILL" >&2
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$VAR/$name/pid"
}

# show_log FILE: the end of a log, for error messages.
show_log() {
	echo "---- last lines of $1 ----" >&2
	tail -n 30 "$1" >&2 || true
}

# ======================= PostgreSQL 15 =======================
PG_MATCH="$PG_BIN/postgres -D $VAR/pg/data"

pg_ready() {
	"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2
}

pg_start() {
	local pid d="$VAR/pg"
	pid=$(pid_of pg "$PG_MATCH")
	if [ -n "$pid" ] && pg_ready; then return 0; fi
	[ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 not installed (run deploy/local/install.sh)"
	[ "$(id -u)" = 0 ] || die "pg: must run as root (initdb and pg_ctl run as user postgres through runuser)"
	if [ -z "$pid" ] && [ -f "$d/data/postmaster.pid" ]; then
		pid=$(head -n1 "$d/data/postmaster.pid")
		if kill -0 "$pid" 2>/dev/null; then
			# running but its pid file was lost: adopt it
			echo "$pid" >"$d/pid"
			pg_wait_ready "$pid" && return 0
		fi
	fi
	if [ -n "$pid" ]; then # starting up or recovering
		pg_wait_ready "$pid" && return 0
		die "pg: pid $pid is alive but not ready on 127.0.0.1:$PG_PORT; see $d/pg.log or run down.sh"
	fi
	port_busy "$PG_PORT" && die "pg: 127.0.0.1:$PG_PORT is already in use by another process"
	pg_reach "$VAR"
	mkdir -p "$d"
	chown postgres: "$d"
	chmod 700 "$d"
	if [ ! -s "$d/data/PG_VERSION" ]; then
		rm -rf "$d/data"
		runuser -u postgres -- "$PG_BIN/initdb" -D "$d/data" -U postgres -A trust -E UTF8 \
			--locale=C --no-sync >"$d/initdb.log" 2>&1 ||
			{ show_log "$d/initdb.log"; die "pg: initdb failed"; }
	fi
	[ ! -f "$d/pg.log" ] || mv -f "$d/pg.log" "$d/pg.log.prev"
	# pg_ctl -w returns once the server accepts connections
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/pg.log" -w -t 60 -s -o \
		"-c listen_addresses=127.0.0.1 -p $PG_PORT -k $d -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >/dev/null || { show_log "$d/pg.log"; die "pg: start failed"; }
	head -n1 "$d/data/postmaster.pid" >"$d/pid"
	pg_wait_ready "$(cat "$d/pid")" || { show_log "$d/pg.log"; die "pg: not ready"; }
	pg_bootstrap
}

# The server runs as user postgres, so it must be able to walk down to var/: a checkout under a
# private directory (mktemp -d makes it mode 700) would stop initdb with "Permission denied".
# Grant traversal only (o+x, not listing) on the directories on the way that lack it, and say so.
pg_reach() {
	local path="" comp parts
	IFS=/ read -ra parts <<<"${1#/}"
	for comp in "${parts[@]}"; do
		[ -n "$comp" ] || continue
		path="$path/$comp"
		[ -d "$path" ] || break
		if ! runuser -u postgres -- test -x "$path"; then
			chmod o+x "$path" || die "pg: user postgres cannot reach $path"
			echo "pg: granted traversal (o+x) on $path so that user postgres reaches $1" >&2
		fi
	done
}

pg_wait_ready() {
	local pid=$1 i
	for ((i = 0; i < 300; i++)); do
		pg_ready && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# role shiren (LOGIN CREATEDB, not superuser) and database shiren owned by it; idempotent
pg_bootstrap() {
	local psql=(psql "$PG_SUPER_DSN" -v ON_ERROR_STOP=1 -qAtX)
	"${psql[@]}" -c "DO \$\$ BEGIN
	  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shiren') THEN
	    CREATE ROLE shiren LOGIN CREATEDB;
	  END IF; END \$\$;" >/dev/null || die "pg: cannot create role shiren"
	if [ -z "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'shiren'")" ]; then
		"${psql[@]}" -c "CREATE DATABASE shiren OWNER shiren" >/dev/null ||
			die "pg: cannot create database shiren"
	fi
}

pg_stop() {
	local pid
	pid=$(pid_of pg "$PG_MATCH")
	if [ -z "$pid" ] && [ -f "$VAR/pg/data/postmaster.pid" ]; then
		pid=$(head -n1 "$VAR/pg/data/postmaster.pid")
		kill -0 "$pid" 2>/dev/null || pid=
	fi
	# INT is PostgreSQL's "fast" shutdown; TERM ("smart") would wait for every client to leave
	[ -z "$pid" ] || stop_pid pg "$pid" INT
	rm -f "$VAR/pg/pid"
}

# ======================= Kafka (KRaft, broker+controller) =======================
KAFKA_MATCH="kafka.Kafka $VAR/kafka/server.properties"

kafka_ready_log() {
	grep -q 'Kafka Server started' "$VAR/kafka/kafka.log" 2>/dev/null
}

kafka_running() { # pid alive, started and accepting connections
	local pid
	pid=$(pid_of kafka "$KAFKA_MATCH")
	[ -n "$pid" ] && kafka_ready_log && port_busy "$KAFKA_PORT"
}

kafka_start() {
	local pid d="$VAR/kafka" i
	pid=$(pid_of kafka "$KAFKA_MATCH")
	if [ -n "$pid" ] && kafka_ready_log && port_busy "$KAFKA_PORT"; then return 0; fi
	[ -z "$pid" ] || {
		kafka_wait_ready "$pid" && return 0
		die "kafka: pid $pid is alive but not ready; see $d/kafka.log or run down.sh"
	}
	[ -f "$KAFKA_MARKER" ] || die "Kafka $KAFKA_VERSION jars missing in $KAFKA_LIB (run deploy/local/install.sh)"
	command -v java >/dev/null || die "java not found (run deploy/local/install.sh)"
	for i in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
		port_busy "$i" && die "kafka: 127.0.0.1:$i is already in use by another process"
	done
	mkdir -p "$d/data"
	# the effective config: the committed template with the absolute data directory
	{
		cat "$HERE/kafka/server.properties"
		printf '\n# added by deploy/local/lib.sh (later keys win)\nlog.dirs=%s\n' "$d/data"
		printf 'listeners=PLAINTEXT://127.0.0.1:%s,CONTROLLER://127.0.0.1:%s\n' \
			"$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
		printf 'advertised.listeners=PLAINTEXT://127.0.0.1:%s\n' "$KAFKA_PORT"
		printf 'controller.quorum.voters=1@127.0.0.1:%s\n' "$KAFKA_CONTROLLER_PORT"
	} >"$d/server.properties.tmp"
	mv -f "$d/server.properties.tmp" "$d/server.properties"
	if [ ! -s "$d/data/meta.properties" ]; then
		java -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" \
			-c "$d/server.properties" >"$d/format.log" 2>&1 ||
			{ show_log "$d/format.log"; die "kafka: storage format failed"; }
	fi
	[ ! -f "$d/kafka.log" ] || mv -f "$d/kafka.log" "$d/kafka.log.prev"
	local jvm_opts
	# word splitting wanted: a list of JVM flags (override with SHIREN_KAFKA_JVM_OPTS)
	read -ra jvm_opts <<<"${SHIREN_KAFKA_JVM_OPTS:--Xms256m -Xmx768m -XX:+UseSerialGC}"
	(
		cd "$d" || exit 1
		exec setsid java "${jvm_opts[@]}" \
			-Djava.awt.headless=true \
			-Dorg.slf4j.simpleLogger.defaultLogLevel=info \
			-Dorg.slf4j.simpleLogger.showDateTime=true \
			-Dorg.slf4j.simpleLogger.dateTimeFormat="yyyy-MM-dd'T'HH:mm:ss.SSS" \
			-cp "$KAFKA_LIB/*" kafka.Kafka "$d/server.properties" \
			</dev/null >"$d/kafka.log" 2>&1
	) &
	echo $! >"$d/pid"
	kafka_wait_ready "$(cat "$d/pid")" || {
		show_log "$d/kafka.log"
		die "kafka: not ready within 90 s"
	}
}

kafka_wait_ready() {
	local pid=$1 i
	for ((i = 0; i < 450; i++)); do # 90 s
		if kafka_ready_log && port_busy "$KAFKA_PORT"; then return 0; fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

kafka_stop() {
	local pid
	pid=$(pid_of kafka "$KAFKA_MATCH")
	[ -z "$pid" ] || stop_pid kafka "$pid" TERM
	rm -f "$VAR/kafka/pid"
}

# ======================= SeaweedFS S3 (weed mini) =======================
WEED_MATCH="mini -dir=$VAR/s3/data"

# s3_status KEY SECRET: HTTP status of a SigV4-signed ListBuckets
s3_status() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$1:$2" "http://127.0.0.1:$S3_PORT/" || true
}

s3_ready() {
	[ "$(s3_status "$S3_ACCESS_KEY" "$S3_SECRET_KEY")" = 200 ]
}

s3_start() {
	local pid d="$VAR/s3" i code umask_old
	pid=$(pid_of s3 "$WEED_MATCH")
	if [ -n "$pid" ] && s3_ready; then return 0; fi
	[ -z "$pid" ] || {
		s3_wait_ready "$pid" && return 0
		die "s3: pid $pid is alive but not ready; see $d/weed.log or run down.sh"
	}
	[ -x "$WEED_BIN" ] || die "weed missing at $WEED_BIN (run deploy/local/install.sh)"
	for i in "$S3_PORT" "$WEED_MASTER_PORT" "$WEED_VOLUME_PORT" "$WEED_FILER_PORT" "$WEED_ADMIN_PORT"; do
		port_busy "$i" && die "s3: 127.0.0.1:$i (needed by weed mini) is already in use by another process"
	done
	mkdir -p "$d/data"
	umask_old=$(umask)
	umask 077
	cat >"$d/s3.json" <<EOF
{
  "identities": [
    {
      "name": "shiren",
      "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
	umask "$umask_old"
	[ ! -f "$d/weed.log" ] || mv -f "$d/weed.log" "$d/weed.log.prev"
	(
		cd "$d" || exit 1
		exec setsid "$WEED_BIN" -logtostderr mini -dir="$d/data" \
			-ip=127.0.0.1 -ip.bind=127.0.0.1 \
			-s3.port="$S3_PORT" -s3.config="$d/s3.json" \
			-master.port="$WEED_MASTER_PORT" -volume.port="$WEED_VOLUME_PORT" \
			-filer.port="$WEED_FILER_PORT" -admin.port="$WEED_ADMIN_PORT" -admin.port.legacy=0 \
			-s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -admin.ui=false \
			-master.telemetry=false \
			-filer.localSocket="$d/filer.sock" -s3.localSocket="$d/s3.sock" \
			</dev/null >"$d/weed.log" 2>&1
	) &
	echo $! >"$d/pid"
	s3_wait_ready "$(cat "$d/pid")" || {
		show_log "$d/weed.log"
		die "s3: no successful signed request within 90 s"
	}
	# prove authentication is on: a wrong secret and an unsigned request must both be refused
	code=$(s3_status "$S3_ACCESS_KEY" "wrong-$S3_SECRET_KEY")
	[ "$code" = 403 ] || die "s3: a request signed with a wrong secret got HTTP $code, expected 403"
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$S3_PORT/" || true)
	[ "$code" = 403 ] || die "s3: an unsigned request got HTTP $code, expected 403"
}

s3_wait_ready() {
	local pid=$1 i
	for ((i = 0; i < 450; i++)); do # 90 s
		s3_ready && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

s3_stop() {
	local pid
	pid=$(pid_of s3 "$WEED_MATCH")
	[ -z "$pid" ] || stop_pid s3 "$pid" TERM
	rm -f "$VAR/s3/pid"
}
