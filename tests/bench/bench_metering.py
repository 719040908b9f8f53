#!/usr/bin/env python3
"""Benchmark of shiren-metering on the local stack (docs/benchmarks.md, "metering").

1. Replay / throughput: N usage events (5% duplicates, 10% non-billable, T tenants each with a
   prepaid package) are produced to a fresh topic first; then shiren-metering starts on a fresh
   database and the clock runs until every message is applied (exactly-once on: one
   transaction per batch with the offsets, synchronous_commit on). Reported: wall time,
   events/s, CPU seconds of the metering process and of its PostgreSQL backend, and events per
   CPU-second ("per core"), ledger bytes per event. Reconciliation must pass afterwards.
2. Live: the generator produces M more events as fast as it can while metering consumes.
3. Latency at a steady rate (bench_metering_lat): p99 event -> balance visible and p99
   threshold crossing -> alert on Kafka, with fresh tenants whose trials run out during the run.

Usage: tests/bench/bench_metering.py [--events 1000000] [--live 300000] [--tenants 1000]
       [--partitions 1] [--rate 1000] [--seconds 30] [--build build/release]
"""
import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")


def stack_env():
    env = dict(os.environ)
    for line in (ROOT / "var/stack.env").read_text().splitlines():
        if line.startswith("export "):
            k, _, v = line[7:].partition("=")
            env[k] = shlex.split(v)[0] if v else ""
    return env


def cpu_s(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def loadavg():
    return Path("/proc/loadavg").read_text().split()[0]


class Bench:
    def __init__(self, a):
        self.a = a
        self.b = ROOT / a.build
        self.env = stack_env()
        u = uuid.uuid4().hex[:8]
        self.db = "bench_m_" + u
        with psycopg.connect(self.env["SHIREN_PG_DSN"], autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{self.db}"')
        self.admin_dsn = self.env["SHIREN_PG_DSN"]
        self.dsn = self.admin_dsn.replace("dbname=shiren", f"dbname={self.db}")
        self.port = free_port()
        self.env.update(
            SHIREN_PG_DSN=self.dsn, MT_USAGE_TOPIC=f"b.usage.{u}",
            MT_ALERTS_TOPIC=f"b.alerts.{u}", MT_DLQ_TOPIC=f"b.dlq.{u}",
            SHIREN_METERING_USAGE_TOPIC=f"b.usage.{u}", SHIREN_METERING_ALERTS_TOPIC=f"b.alerts.{u}",
            SHIREN_METERING_DLQ_TOPIC=f"b.dlq.{u}", SHIREN_METERING_GROUP=f"b.{u}",
            SHIREN_ADMIN_ADDR=f"127.0.0.1:{self.port}",
            SHIREN_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "warn"))
        if a.batch:
            self.env["SHIREN_METERING_BATCH"] = str(a.batch)
        if a.linger is not None:
            self.env["SHIREN_METERING_LINGER_MS"] = str(a.linger)
        self.run([str(self.b / "bin/shirenctl"), "migrate"])
        self.run([str(self.b / "bench/bench_metering_gen"), "topics", str(a.partitions)])
        self.proc = None
        self.log = open(f"/tmp/bench_metering_{u}.log", "w")

    def run(self, cmd, **kw):
        return subprocess.run(cmd, env=self.env, check=True, capture_output=True, text=True,
                              **kw)

    def sql(self, q, params=None):
        with psycopg.connect(self.dsn, autocommit=True) as c:
            cur = c.execute(q, params)
            return cur.fetchall() if cur.description else None

    def tenants(self, n, prefix, package):
        ids = [str(uuid.uuid4()) for _ in range(n)]
        with psycopg.connect(self.dsn) as c:
            with c.cursor() as cur:
                cur.executemany("INSERT INTO tenants (id, name) VALUES (%s, %s)",
                                [(t, f"{prefix}-{i}") for i, t in enumerate(ids)])
                if package:
                    cur.executemany(
                        "INSERT INTO metering_commands (kind, tenant_id, product, package_id, "
                        "size, unit_price, actor) VALUES ('topup', %s, 4, %s, %s, 3000, 'bench')",
                        [(t, f"{prefix}-pkg-{i}", package) for i, t in enumerate(ids)])
        path = Path(f"/tmp/{self.db}.{prefix}.tenants")
        path.write_text("\n".join(ids) + "\n")
        return path

    def gen(self, tenants, n, start, rate=0):
        out = self.run([str(self.b / "bench/bench_metering_gen"), "gen", str(tenants), str(n),
                        "--rate", str(rate), "--dup-pct", "5", "--start", str(start),
                        "--prefix", "b"], timeout=3600).stdout
        return json.loads(out)

    def start(self):
        self.proc = subprocess.Popen([str(self.b / "bin/shiren-metering")], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("metering did not become ready")

    def consumed(self):
        return int(self.sql("SELECT coalesce(sum(consumed), 0) FROM metering_offsets")[0][0])

    def backend_pid(self):
        r = self.sql("SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                     "application_name = 'shiren-metering-apply'", (self.db,))
        return r[0][0] if r else None

    def mark(self):
        bpid = self.backend_pid()
        return {"t": time.time(), "cpu": cpu_s(self.proc.pid), "base": self.consumed(),
                "bpid": bpid, "bcpu": cpu_s(bpid) if bpid else 0.0}

    def drain(self, target, timeout=3600, start=None):
        """Wait until `target` messages are consumed; returns wall and CPU figures measured
        from `start` (a mark()) or from the first applied message."""
        if start is None:
            while self.consumed() == 0 and target:
                time.sleep(0.01)
            start = self.mark()
        t0, c0, base = start["t"], start["cpu"], start["base"]
        bpid, b0 = start["bpid"], start["bcpu"]
        while self.consumed() < target:
            if time.time() - t0 > timeout:
                raise SystemExit("drain timed out")
            time.sleep(0.05)
        wall = time.time() - t0
        return {"messages": target - base, "wall_s": round(wall, 2),
                "metering_cpu_s": round(cpu_s(self.proc.pid) - c0, 2),
                "pg_backend_cpu_s": round((cpu_s(bpid) - b0) if bpid else 0.0, 2)}

    def visible_hist(self):
        """Metering's own ingest -> commit histogram (/metrics): bucket upper bounds of the
        p50 and p99, and the count."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        buckets = []
        for line in text.splitlines():
            if line.startswith("shiren_metering_visible_seconds_bucket"):
                le = line.split('le="')[1].split('"')[0]
                buckets.append((float("inf") if le == "+Inf" else float(le),
                                int(float(line.rsplit(" ", 1)[1]))))
        total = buckets[-1][1] if buckets else 0
        out = {"count": total}
        for q in (0.5, 0.9, 0.99):
            out[f"p{int(q * 100)}_le_s"] = next((le for le, c in buckets if c >= q * total),
                                                None)
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)

    def drop(self):
        with psycopg.connect(self.admin_dsn, autocommit=True) as c:
            c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                      (self.db,))
            c.execute(f'DROP DATABASE IF EXISTS "{self.db}"')


def rates(d):
    m = d["messages"]
    d["events_per_s"] = round(m / d["wall_s"]) if d["wall_s"] else None
    d["events_per_metering_cpu_s"] = round(m / d["metering_cpu_s"]) if d["metering_cpu_s"] else None
    tot = d["metering_cpu_s"] + d["pg_backend_cpu_s"]
    d["events_per_cpu_s_incl_pg"] = round(m / tot) if tot else None
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--live", type=int, default=300000)
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--batch", type=int, default=0, help="SHIREN_METERING_BATCH (default: the "
                    "service's)")
    ap.add_argument("--linger", type=int, default=None, help="SHIREN_METERING_LINGER_MS")
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    bench = Bench(a)
    res = {"load_before": loadavg(), "partitions": a.partitions, "batch": a.batch}
    try:
        tfile = bench.tenants(a.tenants, "t", 1000)
        if a.events:
            g = bench.gen(tfile, a.events, 0)
            res["produce"] = g
        bench.start()
        if a.events:
            res["replay"] = rates(bench.drain(g["messages"]))
            # T5: the ledger's tables with their indexes, per row and per event (an event's
            # entries share its key; one whose calls span sources has more than one).
            rows, events, heap, idx, other = bench.sql(
                "SELECT count(*), count(*) FILTER (WHERE seq = 0), "
                "pg_relation_size('metering_usage'), pg_indexes_size('metering_usage'), "
                "pg_total_relation_size('metering_entries') FROM metering_usage")[0]
            size = heap + idx + other
            res["ledger_rows"], res["ledger_events"] = rows, events
            res["ledger_bytes_per_row"] = round(size / rows, 1)
            res["ledger_bytes_per_event"] = round(size / events, 1)
            res["ledger_heap_index_per_row"] = [round(heap / rows, 1), round(idx / rows, 1)]
        if a.live and a.events:
            start = bench.mark()
            gp = subprocess.Popen([str(bench.b / "bench/bench_metering_gen"), "gen", str(tfile),
                                   str(a.live), "--rate", "0", "--dup-pct", "5", "--start",
                                   str(a.events), "--prefix", "b"], env=bench.env,
                                  stdout=subprocess.PIPE, text=True)
            out, _ = gp.communicate(timeout=3600)
            g2 = json.loads(out)
            res["live"] = rates(bench.drain(start["base"] + g2["messages"], start=start))
            res["live"]["produce_rate"] = g2["rate"]
        if a.seconds:
            lt = bench.tenants(max(50, a.rate * a.seconds // 100), "lat", 0)
            # Warm up: the group has its partitions (the broker delays the first rebalance)
            # and the pipeline is running before the clock starts.
            warm = bench.tenants(1, "warm", 0)
            before = bench.consumed()
            w = bench.gen(warm, 20, 10 ** 9)
            bench.drain(before + w["messages"])
            out = bench.run([str(bench.b / "bench/bench_metering_lat"), str(lt), str(a.rate),
                             str(a.seconds)], timeout=a.seconds + 120).stdout
            res["latency"] = json.loads(out)
        if not a.events:  # with a backlog replayed first the histogram is about that
            res["metering_visible_hist"] = bench.visible_hist()
        rec = bench.run([str(bench.b / "bin/shirenctl"), "metering", "reconcile", "--json"])
        res["reconcile_ok"] = all(json.loads(l)["ok"] for l in rec.stdout.splitlines())
        res["load_after"] = loadavg()
    finally:
        bench.stop()
        if not a.keep:
            bench.drop()
    print(json.dumps(res, indent=2))
    return 0 if res.get("reconcile_ok") else 1


if __name__ == "__main__":
    sys.exit(main())
