"""The delivery guarantee, proven against the real broker and PostgreSQL (DESIGN §5).

A producer writes N state changes, each with its outbox row, in transactions; the outbox relay
publishes them; an inbox consumer applies them into a table. While this runs the test kill -9s
the relay and the consumer at random moments and restarts them. At the end every change is
applied exactly once with the right content, poison messages sit in the dead-letter topic, and
the consumer moved past them.
"""
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]


class Proc:
    """A pipeline subprocess that can be killed -9 and restarted."""

    def __init__(self, exe, args, env, logdir, name):
        self.exe, self.args, self.env, self.name = exe, args, env, name
        self.logdir = logdir
        self.p = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(self.logdir / f"{self.name}.{self.starts}.log", "w")
        self.p = subprocess.Popen([self.exe] + self.args, env=self.env, stdout=log, stderr=log)

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
            return self.p.returncode
        return None


def expected_amount(seq):
    return -1 if seq % 1000 == 999 else seq % 97 + 1


@pytest.fixture
def pipe_env(migrated_env, bins, unique, tmp_path):
    env = dict(migrated_env)
    env.update(
        PIPE_TOPIC=f"test.pipe.{unique}",
        PIPE_DLQ=f"test.dlq.{unique}",
        PIPE_SOURCE=f"pipe-{unique}",
        PIPE_GROUP=f"pipe-{unique}",
    )
    subprocess.run([bins.pipeline, "setup"], env=env, check=True)
    subprocess.run([bins.pipeline, "topics"], env=env, check=True, timeout=60)
    return env


def wait_applied(dsn, want, timeout):
    deadline = time.time() + timeout
    n = -1
    while time.time() < deadline:
        with psycopg.connect(dsn) as c:
            n = c.execute("SELECT count(DISTINCT seq) FROM pipe_applied").fetchone()[0]
        if n >= want:
            return n
        time.sleep(0.5)
    return n


def check_exactly_once(dsn, total):
    """Every good change applied once with its content; poison ones never applied."""
    good = [s for s in range(total) if expected_amount(s) > 0]
    with psycopg.connect(dsn) as c:
        rows = c.execute("SELECT seq, amount FROM pipe_applied ORDER BY seq").fetchall()
        tot, n = c.execute("SELECT total, n FROM pipe_totals WHERE id = 1").fetchone()
        outbox_left = c.execute("SELECT count(*) FROM outbox").fetchone()[0]
    seqs = [r[0] for r in rows]
    assert len(seqs) == len(set(seqs)), "some change was applied twice"
    assert seqs == good, "applied set differs from the produced good changes"
    for seq, amount in rows:
        assert amount == expected_amount(seq)
    assert n == len(good)
    assert tot == sum(expected_amount(s) for s in good)
    assert outbox_left == 0


def dlq_count(bins, env):
    out = subprocess.run([bins.pipeline, "dlq-count", "8"], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    return dict(zip(out[0::2], map(int, out[1::2])))


def test_kill9_relay_and_consumer_exactly_once(pipe_env, bins, tmp_path):
    total = 12000
    rng = random.Random(int(os.environ.get("PIPE_SEED", "20261128")))
    relay = Proc(bins.pipeline, ["relay"], pipe_env, tmp_path, "relay")
    consumer = Proc(bins.pipeline, ["consume"], pipe_env, tmp_path, "consume")
    relay.start()
    consumer.start()
    producer = subprocess.Popen([bins.pipeline, "produce", "0", str(total), "50"], env=pipe_env)
    subprocess.run([bins.pipeline, "garbage", "3"], env=pipe_env, check=True)

    kills = 0
    deadline = time.time() + 240
    while kills < 8 and time.time() < deadline:
        time.sleep(rng.uniform(0.4, 2.0))
        victim = rng.choice([relay, consumer])
        victim.kill9()
        kills += 1
        time.sleep(rng.uniform(0.0, 0.5))
        victim.start()
    assert producer.wait(timeout=300) == 0
    good = sum(1 for s in range(total) if expected_amount(s) > 0)
    got = wait_applied(pipe_env["SHIREN_PG_DSN"], good, 180)
    assert relay.stop() == 0
    assert consumer.stop() == 0
    assert got == good, f"applied {got} of {good}"
    assert kills >= 6
    check_exactly_once(pipe_env["SHIREN_PG_DSN"], total)
    # 12 poison changes (seq % 1000 == 999) after bounded retries, 3 undecodable payloads at once.
    d = dlq_count(bins, pipe_env)
    assert d["apply"] == total // 1000
    assert d["decode"] == 3
    with psycopg.connect(pipe_env["SHIREN_PG_DSN"]) as c:
        dead = c.execute("SELECT count(*) FROM inbox WHERE status = 1").fetchone()[0]
    assert dead == total // 1000


def test_broker_restart_loses_nothing(pipe_env, bins, tmp_path):
    total = 6000
    relay = Proc(bins.pipeline, ["relay"], pipe_env, tmp_path, "relay")
    consumer = Proc(bins.pipeline, ["consume"], pipe_env, tmp_path, "consume")
    relay.start()
    consumer.start()
    producer = subprocess.Popen([bins.pipeline, "produce", "0", str(total), "20"], env=pipe_env)
    time.sleep(1.5)
    subprocess.run([str(ROOT / "deploy/local/kafka-restart.sh")], check=True, timeout=180)
    assert producer.wait(timeout=300) == 0
    good = sum(1 for s in range(total) if expected_amount(s) > 0)
    got = wait_applied(pipe_env["SHIREN_PG_DSN"], good, 180)
    assert relay.stop() == 0
    assert consumer.stop() == 0
    assert got == good
    check_exactly_once(pipe_env["SHIREN_PG_DSN"], total)


def test_standby_relay_takes_over(pipe_env, bins, tmp_path):
    """Two relays for one source: one publishes, the other waits; killing the active one hands
    over without loss or reordering per key."""
    total = 3000
    a = Proc(bins.pipeline, ["relay"], pipe_env, tmp_path, "relay-a")
    b = Proc(bins.pipeline, ["relay"], pipe_env, tmp_path, "relay-b")
    consumer = Proc(bins.pipeline, ["consume"], pipe_env, tmp_path, "consume")
    a.start()
    time.sleep(0.5)
    b.start()
    consumer.start()
    producer = subprocess.Popen([bins.pipeline, "produce", "0", str(total), "10"], env=pipe_env)
    time.sleep(1.0)
    a.kill9()
    assert producer.wait(timeout=300) == 0
    good = sum(1 for s in range(total) if expected_amount(s) > 0)
    assert wait_applied(pipe_env["SHIREN_PG_DSN"], good, 120) == good
    assert b.stop() == 0
    assert consumer.stop() == 0
    check_exactly_once(pipe_env["SHIREN_PG_DSN"], total)
