#!/usr/bin/env python3
"""Benchmark: outbox -> Kafka -> inbox throughput and latency, exactly-once on.

Phase 1 (throughput): N rows are written to the outbox first; then the relay and the inbox
consumer start together and the clock runs until the consumer has applied all N (each in a
PostgreSQL transaction with its inbox row, offsets committed after). msgs/s = N / elapsed.
Phase 2 (latency): a paced producer writes RATE changes/s for SECONDS; latency per message is
applied_at (consumer's transaction, clock_timestamp) minus the envelope's produced_at.
Runs against the local stack (var/stack.env); binaries from build/release.
Usage: tests/bench/bench_pipeline.py [--n 200000] [--rate 5000] [--seconds 20]
"""
import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]


def stack_env():
    env = dict(os.environ)
    for line in (ROOT / "var/stack.env").read_text().splitlines():
        if line.startswith("export "):
            k, _, v = line[7:].partition("=")
            env[k] = shlex.split(v)[0] if v else ""
    return env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--build", default="build/release")
    a = ap.parse_args()
    b = ROOT / a.build
    pipeline = str(b / "itest/pipeline")
    ctl = str(b / "bin/shirenctl")
    env = stack_env()
    db = "bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(env["SHIREN_PG_DSN"], autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    env["SHIREN_PG_DSN"] = env["SHIREN_PG_DSN"].replace("dbname=shiren", f"dbname={db}")
    u = uuid.uuid4().hex[:8]
    env.update(PIPE_TOPIC=f"bench.pipe.{u}", PIPE_DLQ=f"bench.dlq.{u}", PIPE_SOURCE=f"bench-{u}",
               PIPE_GROUP=f"bench-{u}", PIPE_NO_POISON="1", PIPE_PARTITIONS="3")
    procs = []
    try:
        subprocess.run([ctl, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([pipeline, "setup"], env=env, check=True)
        subprocess.run([pipeline, "topics"], env=env, check=True)
        t = time.time()
        subprocess.run([pipeline, "produce", "0", str(a.n), "1000"], env=env, check=True)
        print(f"prefill: {a.n} outbox rows in {time.time() - t:.1f} s (not part of the figure)")
        dsn = env["SHIREN_PG_DSN"]
        log = open(os.devnull, "w")
        t0 = time.time()
        for cmd in ("relay", "consume"):
            procs.append(subprocess.Popen([pipeline, cmd], env=env, stdout=log, stderr=log))
        with psycopg.connect(dsn, autocommit=True) as c:
            while True:
                n = c.execute("SELECT n FROM pipe_totals WHERE id = 1").fetchone()[0]
                if n >= a.n:
                    break
                if time.time() - t0 > 600:
                    sys.exit(f"timeout: {n} of {a.n} applied")
                time.sleep(0.05)
        el = time.time() - t0
        print(f"throughput: {a.n} messages outbox->kafka->inbox in {el:.2f} s = "
              f"{a.n / el:,.0f} msgs/s (relay batch 2000, consumer batch 500, 3 partitions)")
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("TRUNCATE pipe_applied")
        total = a.rate * a.seconds
        t1 = time.time()
        subprocess.run([pipeline, "produce-rate", str(a.n), str(total), str(a.rate)], env=env,
                       check=True)
        with psycopg.connect(dsn, autocommit=True) as c:
            while c.execute("SELECT count(*) FROM pipe_applied").fetchone()[0] < total:
                if time.time() - t1 > a.seconds + 120:
                    sys.exit("latency phase timed out")
                time.sleep(0.1)
            lat = c.execute(
                "SELECT percentile_cont(ARRAY[0.5, 0.99, 0.999]) WITHIN GROUP (ORDER BY "
                "extract(epoch FROM applied_at) * 1000 - produced_at_ms), max(extract(epoch "
                "FROM applied_at) * 1000 - produced_at_ms) FROM pipe_applied").fetchone()
        print(f"latency at {a.rate} msgs/s for {a.seconds} s ({total} messages): "
              f"p50 {lat[0][0]:.1f} ms, p99 {lat[0][1]:.1f} ms, p99.9 {lat[0][2]:.1f} ms, "
              f"max {lat[1]:.1f} ms (commit of producer txn -> consumer txn)")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
        with psycopg.connect(stack_env()["SHIREN_PG_DSN"], autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
