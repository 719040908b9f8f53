"""Exactly-once under faults, against the real broker and PostgreSQL: a generator streams usage
events with 5% injected duplicates while shiren-metering is killed with SIGKILL at random
moments and restarted; afterwards the ledger equals the one computed from the generated stream
exactly and every reconciliation invariant holds. Then the same topic is replayed from offset 0
into a fresh database: the ledger (and caches, and alert ids) come out identical.
"""
import json
import os
import random
import subprocess
import time
import uuid

import psycopg
import pytest

from test_metering import Metering, ev, http_get, kinds, now_ms

N_TENANTS = 40
N_BLOCK = 8  # the first N_BLOCK tenants block instead of postpaid
PKG = 150
EVENTS = 24000
RATE = 4000


def setup_tenants(m, tenants, bought):
    """Tenants (fixed ids), one package each and the block setting, as queued commands so
    shiren-metering applies them before it consumes anything."""
    with psycopg.connect(m.dsn) as c:
        for i, t in enumerate(tenants):
            c.execute("INSERT INTO tenants (id, name) VALUES (%s, %s)", (t, f"kt-{i:02d}"))
            c.execute("INSERT INTO metering_commands (kind, tenant_id, product, package_id, size, "
                      "unit_price, purchased_at_ms, expires_at_ms, actor) VALUES ('topup', %s, 4, "
                      "%s, %s, 3000, %s, %s, 'test')",
                      (t, f"pk-{i:02d}", PKG, bought, bought + 365 * 86400 * 1000))
            if i < N_BLOCK:
                c.execute("INSERT INTO metering_commands (kind, tenant_id, product, on_exhaust, "
                          "actor) VALUES ('set', %s, 4, 'block', 'test')", (t,))


def expected_ledger(expect_file):
    """Per tenant: kind -> (calls, amount) from the unique events the generator produced."""
    exp = {}
    for i, line in enumerate(open(expect_file).read().split("\n")):
        if not line.strip():
            continue
        t, calls, billable = line.split()
        calls, billable = int(calls), int(billable)
        trial = min(100, billable)
        pkg = min(PKG, billable - trial)
        rest = billable - trial - pkg
        k = {}
        if calls - billable:
            k["call"] = (calls - billable, 0)
        if trial:
            k["trial"] = (trial, 0)
        if pkg:
            k["package"] = (pkg, pkg * 3000)
        if rest:
            k["blocked" if i < N_BLOCK else "postpaid"] = (rest, 0 if i < N_BLOCK else rest * 4000)
        exp[t] = k
    return exp


def actual_ledger(m):
    got = {}
    for t, kind, calls, amount in m.sql(
            "SELECT tenant_id::text, kind, sum(calls)::bigint, sum(amount)::bigint FROM "
            "metering_ledger WHERE kind IN ('call', 'trial', 'package', 'postpaid', 'blocked') "
            "GROUP BY 1, 2"):
        got.setdefault(t, {})[kind] = (calls, amount)
    return got


def ledger_rows(dsn):
    with psycopg.connect(dsn) as c:
        return c.execute("SELECT * FROM metering_ledger ORDER BY entry_key, seq").fetchall()


def caches(dsn):
    with psycopg.connect(dsn) as c:
        return (c.execute("SELECT id, status, remaining FROM metering_packages ORDER BY id")
                .fetchall(),
                c.execute("SELECT * FROM metering_daily ORDER BY 1, 2, 3, 4").fetchall(),
                c.execute("SELECT tenant_id, product, trial_used, status FROM metering_accounts "
                          "ORDER BY 1, 2").fetchall(),
                c.execute("SELECT alert_id, kind, threshold, generation, occurred_at_ms FROM "
                          "metering_alerts ORDER BY alert_id").fetchall(),
                c.execute("SELECT partition, base_offset, next_offset, consumed, applied, "
                          "duplicates, non_billable, rejected FROM metering_offsets ORDER BY 1")
                .fetchall())


@pytest.fixture
def second_db(stack_env, bins):
    name = "t_" + uuid.uuid4().hex[:16]
    admin = stack_env["SHIREN_PG_DSN"]
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    dsn = admin.replace("dbname=shiren", f"dbname={name}")
    yield dsn
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                  (name,))
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_kill9_under_load_then_replay_identical(bins, migrated_env, tmp_path, unique, second_db):
    rng = random.Random(int(os.environ.get("METERING_SEED", "20261128")))
    m = Metering(bins, migrated_env, tmp_path, unique, partitions=3, instance_id=f"i-{unique}",
                 batch=500)
    tenants = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(N_TENANTS)]
    (tmp_path / "tenants").write_text("\n".join(tenants) + "\n")
    bought = now_ms() - 3600 * 1000
    setup_tenants(m, tenants, bought)
    m.start()
    gen = subprocess.Popen(
        [bins.bench_metering_gen, "gen", str(tmp_path / "tenants"), str(EVENTS), "--rate",
         str(RATE), "--dup-pct", "5", "--prefix", f"k{unique}", "--expect",
         str(tmp_path / "expect")], env=m.env, stdout=subprocess.PIPE, text=True)
    kills = 0
    while gen.poll() is None or kills < 6:
        time.sleep(rng.uniform(0.3, 1.5))
        m.kill9()
        kills += 1
        time.sleep(rng.uniform(0.0, 0.3))
        m.start(wait=False)
        if kills >= 12:
            break
    out, _ = gen.communicate(timeout=120)
    assert gen.returncode == 0
    stats = json.loads(out)
    m.wait_ready()
    m.wait_consumed(stats["messages"], timeout=120)
    assert kills >= 6
    assert m.stop() == 0

    exp = expected_ledger(tmp_path / "expect")
    assert actual_ledger(m) == exp
    off = m.sql("SELECT sum(consumed), sum(duplicates), sum(applied) + sum(non_billable), "
                "sum(rejected) FROM metering_offsets")[0]
    assert off == (stats["messages"], stats["duplicates"], EVENTS, 0)
    m.reconcile()
    assert m.ctl("metering", "rebuild", "--check").returncode == 0
    topic_ids = {a["alert_id"] for a in m.alerts()}
    assert topic_ids == {r[0] for r in m.sql("SELECT alert_id::text FROM metering_alerts")}

    # Kafka's committed offsets decide nothing: a new group (none committed) seeks to
    # PostgreSQL's offsets and consumes nothing again.
    before = ledger_rows(m.dsn), caches(m.dsn)
    m.env.update(SHIREN_METERING_GROUP=f"g2.{unique}", SHIREN_METERING_INSTANCE_ID="")
    m.start()
    log = m.tmp / f"metering.{m.starts}.log"
    deadline = time.time() + 30
    while time.time() < deadline and log.read_text().count('"from_postgres":true') < 3:
        time.sleep(0.2)
    assert log.read_text().count('"from_postgres":true') == 3
    time.sleep(1)
    assert m.stop() == 0
    assert (ledger_rows(m.dsn), caches(m.dsn)) == before

    # Replay the whole topic into a fresh database (same tenants, same commands).
    r = dict(m.env)
    r["SHIREN_PG_DSN"] = second_db
    subprocess.run([bins.shirenctl, "migrate"], env=r, check=True, capture_output=True)
    (tmp_path / "replay").mkdir()
    m2 = Metering(bins, r, tmp_path / "replay", unique + "r", partitions=3)
    m2.usage = m.usage
    m2.env["SHIREN_METERING_USAGE_TOPIC"] = m.usage
    setup_tenants(m2, tenants, bought)
    t0 = time.time()
    m2.start()
    m2.wait_consumed(stats["messages"], timeout=120)
    replay_s = time.time() - t0
    assert m2.stop() == 0
    assert ledger_rows(second_db) == ledger_rows(m.dsn)
    assert caches(second_db) == caches(m.dsn)
    m2.reconcile()
    print(f"kills={kills} messages={stats['messages']} replay={replay_s:.1f}s")


def test_a_failure_that_is_not_the_message_is_waited_out(bins, migrated_env, tmp_path, unique):
    """A failure every message would meet (here: the ledger table lost its INSERT privilege)
    is not blamed on the message: nothing is dead-lettered, the partition waits, and once the
    cause is fixed every event is applied exactly once."""
    m = Metering(bins, migrated_env, tmp_path, unique)
    try:
        t = m.tenant("waits-co")
        m.start()
        m.events([ev(t, "w0")])
        m.wait_consumed(1)
        m.sql("REVOKE INSERT ON metering_usage FROM CURRENT_USER")
        m.events([ev(t, f"w{i}") for i in range(1, 4)])
        log = tmp_path / f"metering.{m.starts}.log"
        deadline = time.time() + 30
        while time.time() < deadline and "not the message's" not in log.read_text():
            time.sleep(0.2)
        assert "not the message's" in log.read_text()
        time.sleep(2.5)  # at least one more round of retries
        assert m.one("SELECT count(*) FROM metering_rejects") == 0
        assert m.one("SELECT sum(consumed) FROM metering_offsets") == 1
        code, body = http_get(f"http://127.0.0.1:{m.port}/readyz")
        assert code == 503 and '"metering":false' in body, body  # stuck shows
        m.sql("GRANT INSERT ON metering_usage TO CURRENT_USER")
        m.wait_consumed(4)
        m.wait_ready()
        assert kinds(m.ledger())["trial"] == (4, 0)
        assert m.one("SELECT count(*) FROM metering_rejects") == 0
        m.reconcile()
    finally:
        m.stop()
