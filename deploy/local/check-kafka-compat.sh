#!/usr/bin/env bash
# Checks that Debian's librdkafka (the one our C code links, through kcat which uses the same
# library) works against the local Kafka broker: idempotent producer, acks=all, each
# compression codec, plain and consumer-group consumption, committed offsets. The broker's own
# view of the written batches (codec, producer id, sequence numbers) comes from
# kafka.tools.DumpLogSegments, so a codec silently switched off or idempotence silently
# dropped is caught. Needs the stack up (`deploy/local/up.sh kafka`). Prints one line per codec.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
. "$HERE/lib.sh"

N=1000
read -ra CODECS <<<"${CODECS:-zstd lz4 snappy gzip}"
B=127.0.0.1:$KAFKA_PORT

kafka_running || die "Kafka is not running on $B: run deploy/local/up.sh kafka"
command -v kcat >/dev/null || die "kcat not found (run deploy/local/install.sh)"

# kcat must use the same librdkafka as the one we compile against
kcat_rdk=$(kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9][0-9.]*\).*/\1/p' | head -n1)
dev_rdk=$(pkg-config --modversion rdkafka 2>/dev/null || true)
[ -n "$kcat_rdk" ] || die "cannot read the librdkafka version from 'kcat -V'"
[ -z "$dev_rdk" ] || [ "$kcat_rdk" = "$dev_rdk" ] ||
	die "kcat uses librdkafka $kcat_rdk but pkg-config rdkafka is $dev_rdk"
echo "librdkafka $kcat_rdk (kcat) against Apache Kafka $KAFKA_VERSION at $B"

tmp=$(mktemp -d)
run=$(date +%s)-$$
topics=()
cleanup() {
	if [ ${#topics[@]} -gt 0 ]; then
		java -cp "$KAFKA_LIB/*" org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" \
			--delete --topic "compat-.*-$run" >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
broker_log="$VAR/kafka/kafka.log"
log_from=$(($(wc -l <"$broker_log") + 1))
seq 1 "$N" >"$tmp/expected"
fail=0
bad() {
	echo "FAIL $codec: $*" | tee -a "$tmp/failures"
	fail=1
}

for codec in "${CODECS[@]}"; do
	t="compat-$codec-$run"
	topics+=("$t")
	p="$tmp/$codec"
	start=$(date +%s%N)
	if ! kcat -P -b "$B" -t "$t" -X enable.idempotence=true -X acks=all \
		-X compression.codec="$codec" -X linger.ms=20 -d feature,protocol \
		<"$tmp/expected" 2>"$p.producer.log"; then
		bad "kcat -P exited non-zero (log kept: $p.producer.log)"
		cp "$p.producer.log" "/tmp/compat-$codec.producer.log"
	fi
	produced_ms=$((($(date +%s%N) - start) / 1000000))
	# librdkafka's own view of the broker: the features it enabled after ApiVersion
	for f in MsgVer2 IdempotentProducer $([ "$codec" = zstd ] && echo ZSTD) $([ "$codec" = lz4 ] && echo LZ4); do
		grep -q "Enabling feature $f\$" "$p.producer.log" || bad "librdkafka did not enable feature $f"
	done
	disabled=$(sed -n 's/.*Disabling feature \([A-Za-z0-9]*\)$/\1/p' "$p.producer.log" | sort -u | paste -sd, -)
	if grep -qE '^%[0-3]\|' "$p.producer.log"; then
		bad "librdkafka logged errors: $(grep -E '^%[0-3]\|' "$p.producer.log" | head -n3)"
	fi
	warnings=$(grep -cE '^%4\|' "$p.producer.log" || true)
	grep -E '^%4\|' "$p.producer.log" | cut -d'|' -f3,5- | sed "s/^/     $codec producer warning: /" >>"$tmp/warnings" || true

	# read back, plain consumer
	kcat -C -b "$B" -t "$t" -o beginning -e -q -f '%s\n' >"$p.out" 2>"$p.consumer.log" ||
		bad "kcat -C failed: $(head -n3 "$p.consumer.log")"
	cmp -s "$tmp/expected" "$p.out" || bad "plain consumer read $(wc -l <"$p.out") messages, not the $N produced in order"
	# read back, consumer group (join/sync/heartbeat/commit/leave); a second run must get nothing
	kcat -b "$B" -G "g-$t" -X auto.offset.reset=earliest -e -q -f '%s\n' "$t" >"$p.group1" 2>"$p.group.log" ||
		bad "kcat -G failed: $(head -n3 "$p.group.log")"
	[ "$(wc -l <"$p.group1")" = "$N" ] || bad "group consumer read $(wc -l <"$p.group1") messages, expected $N"
	kcat -b "$B" -G "g-$t" -X auto.offset.reset=earliest -e -q -f '%s\n' "$t" >"$p.group2" 2>>"$p.group.log" ||
		bad "second kcat -G failed"
	[ ! -s "$p.group2" ] || bad "group offsets were not committed: a second group run read $(wc -l <"$p.group2") messages"

	echo "$codec $produced_ms ${disabled:-none} $warnings" >>"$tmp/summary"
done

# the broker's view of what was written
files=()
for t in "${topics[@]}"; do files+=("$VAR/kafka/data/$t-0/00000000000000000000.log"); done
java -cp "$KAFKA_LIB/*" kafka.tools.DumpLogSegments --files "$(
	IFS=,
	echo "${files[*]}"
)" >"$tmp/dump" 2>&1 || die "DumpLogSegments failed: $(tail -n3 "$tmp/dump")"

while read -r codec produced_ms disabled warnings; do
	t="compat-$codec-$run"
	# the batches of this topic's segment
	awk -v f="$t-0/" 'index($0, "Dumping ") == 1 { on = index($0, f) > 0; next } on && /^baseOffset:/' \
		"$tmp/dump" >"$tmp/$codec.batches"
	batches=$(wc -l <"$tmp/$codec.batches")
	records=$(awk '{ for (i = 1; i < NF; i++) if ($i == "count:") s += $(i + 1) } END { print s + 0 }' "$tmp/$codec.batches")
	codecs=$(grep -oE 'compresscodec: [a-z0-9]+' "$tmp/$codec.batches" | cut -d' ' -f2 | sort -u | paste -sd, -)
	pids=$(grep -oE 'producerId: -?[0-9]+' "$tmp/$codec.batches" | cut -d' ' -f2 | sort -u | paste -sd, -)
	magics=$(grep -oE 'magic: [0-9]+' "$tmp/$codec.batches" | cut -d' ' -f2 | sort -u | paste -sd, -)
	seqs=$(grep -oE 'baseSequence: -?[0-9]+' "$tmp/$codec.batches" | cut -d' ' -f2 | sort -n | head -n1)
	[ "$records" = "$N" ] || bad "broker holds $records records, expected $N"
	[ "$magics" = 2 ] || bad "record batch format (magic) is '$magics', expected 2"
	[ "$codecs" = "$codec" ] || bad "broker batches are compressed with '$codecs', expected $codec"
	case ",$pids," in ,, | *,-1,*) bad "batches carry no producer id (idempotence off): producerId=$pids" ;; esac
	[ "${seqs:--1}" -ge 0 ] || bad "batches carry no sequence numbers (idempotence off)"
	grep -q "^FAIL $codec:" "$tmp/failures" 2>/dev/null && continue
	echo "ok   $codec: $N produced (idempotent, acks=all, ${produced_ms} ms) and read back (plain + group, offsets committed);" \
		"broker: $batches batch(es), codec $codecs, producerId $pids, magic $magics;" \
		"librdkafka disabled features: ${disabled//,/ }; producer warnings: $warnings"
done <"$tmp/summary"

[ ! -s "$tmp/warnings" ] || head -n 10 "$tmp/warnings"

# the broker's side while this ran
sleep 1
errs=$(tail -n +"$log_from" "$broker_log" | grep -E ' (ERROR|WARN) |UNSUPPORTED_VERSION|UnsupportedVersion|InvalidRequest|CorruptRecord' || true)
if [ -n "$errs" ]; then
	echo "broker log, WARN/ERROR lines during the check:"
	echo "$errs" | head -n 20 | cut -c1-300
	grep -qE ' ERROR |UNSUPPORTED_VERSION|UnsupportedVersion|InvalidRequest|CorruptRecord' <<<"$errs" && fail=1
else
	echo "broker log: no WARN/ERROR/UNSUPPORTED_VERSION lines during the check"
fi
[ $fail = 0 ] || die "FAILED"
