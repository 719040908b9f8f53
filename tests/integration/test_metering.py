"""shiren-metering against the real broker and PostgreSQL: charging order end to end (trial ->
packages by earliest expiry -> postpaid or block), quota alerts on the real topic (fire once,
dedup, re-arm after a top-up), bad input dead-lettered, late events and the period close,
the balance route, reconciliation and the cache rebuild.

The helpers here (Metering, ev) are shared with test_metering_faults.py.
"""
import calendar
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
UTC8 = 8 * 3600 * 1000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def now_ms():
    return int(time.time() * 1000)


def key(label, action="CompareFaceVerify"):
    """The event id of a test event named `label`, shaped as the producers make them:
    <CertifyId, 32 hex digits>:<Action>."""
    return f"{hashlib.md5(label.encode()).hexdigest()}:{action}"


def ev(tenant, eid, sub=200, qty=1, at=None, scene=1000001, ingest=0, product=4,
       billable=None, action="CompareFaceVerify", raw=False):
    """One line for `bench_metering_gen events`; `eid` is a label for key() unless `raw`."""
    at = now_ms() if at is None else at
    eid = eid if raw else key(eid, action)
    line = f"{tenant} {product} {eid} {sub} {qty} {at} {scene} {ingest}"
    return line + (f" {int(billable)}" if billable is not None else "")


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Metering:
    """One metering deployment for a test: its database, topics, group and process."""

    def __init__(self, bins, env, tmp_path, unique, partitions=2, **cfg):
        self.bins, self.tmp = bins, tmp_path
        self.dsn = env["SHIREN_PG_DSN"]
        self.usage, self.alerts_topic, self.dlq = (f"t.usage.{unique}", f"t.alerts.{unique}",
                                                   f"t.dlq.{unique}")
        self.port = free_port()
        self.env = dict(env)
        self.env.update(
            SHIREN_METERING_USAGE_TOPIC=self.usage, SHIREN_METERING_ALERTS_TOPIC=self.alerts_topic,
            SHIREN_METERING_DLQ_TOPIC=self.dlq, SHIREN_METERING_GROUP=f"g.{unique}",
            SHIREN_ADMIN_ADDR=f"127.0.0.1:{self.port}", SHIREN_METERING_SWEEP_S="1",
            SHIREN_METERING_LINGER_MS="50", MT_USAGE_TOPIC=self.usage,
            MT_ALERTS_TOPIC=self.alerts_topic, MT_DLQ_TOPIC=self.dlq)
        for k, v in cfg.items():
            self.env["SHIREN_METERING_" + k.upper()] = str(v)
        self.p = None
        self.starts = 0
        subprocess.run([bins.bench_metering_gen, "topics", str(partitions)], env=self.env,
                       check=True, timeout=60)

    # ---- process ----
    def start(self, wait=True):
        self.starts += 1
        log = open(self.tmp / f"metering.{self.starts}.log", "w")
        self.p = subprocess.Popen([self.bins.shiren_metering], env=self.env, stdout=log,
                                  stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.p.poll() is None, "metering exited"
            try:
                if http_get(f"http://127.0.0.1:{self.port}/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("metering not ready")

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
        return self.p.returncode if self.p else None

    # ---- tools ----
    def events(self, lines):
        p = subprocess.run([self.bins.bench_metering_gen, "events"], env=self.env,
                           input="\n".join(lines) + "\n", capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        return int(p.stdout.strip())

    def ctl(self, *args, check=True, timeout=60):
        p = subprocess.run([self.bins.shirenctl, *args], env=self.env, capture_output=True,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"shirenctl {args} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p

    def tenant(self, name):
        out = self.ctl("tenant", "create", name, "--json").stdout
        return json.loads(out)["id"]

    def sql(self, q, params=None):
        with psycopg.connect(self.dsn) as c:
            cur = c.execute(q, params)
            return cur.fetchall() if cur.description else None

    def one(self, q, params=None):
        return self.sql(q, params)[0][0]

    def wait_consumed(self, n, timeout=60):
        deadline = time.time() + timeout
        got = -1
        while time.time() < deadline:
            got = self.one("SELECT coalesce(sum(consumed), 0) FROM metering_offsets")
            if got >= n:
                return got
            time.sleep(0.1)
        raise AssertionError(f"consumed {got} of {n}")

    def alerts(self, idle_ms=1500):
        p = self.ctl("alerts", "tail", "--topic", self.alerts_topic, "--from-beginning",
                     "--idle-ms", str(idle_ms))
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

    def reconcile(self):
        p = self.ctl("metering", "reconcile", "--json", check=False)
        rows = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        bad = [r for r in rows if not r["ok"]]
        assert p.returncode == 0 and not bad, f"reconcile failed: {bad}\n{p.stderr}"
        return rows

    def ledger(self, where="true"):
        return self.sql(f"SELECT kind, sum(calls)::bigint, sum(amount)::bigint "
                        f"FROM metering_ledger WHERE {where} GROUP BY kind ORDER BY kind")


@pytest.fixture
def metering(bins, migrated_env, tmp_path, unique):
    m = Metering(bins, migrated_env, tmp_path, unique)
    yield m
    m.stop()


def kinds(rows):
    return {k: (c, a) for k, c, a in rows}


def test_trial_package_postpaid_and_block_end_to_end(metering):
    m = metering
    a, b = m.tenant("postpaid-co"), m.tenant("block-co")
    m.start()
    m.ctl("metering", "topup", "--tenant", "postpaid-co", "--product", "PV_FV", "--size", "50",
          "--price", "10", "--id", "a-pkg")
    m.ctl("metering", "set", "--tenant", "block-co", "--product", "4", "--on-exhaust", "block")
    lines = [ev(a, f"a{i}:Verify") for i in range(200)]
    lines += [ev(a, f"a-nb{i}:Verify", sub=107) for i in range(10)]
    lines += [ev(b, f"b{i}:Verify", sub=201) for i in range(105)]
    assert m.events(lines) == 315
    m.wait_consumed(315)
    la = kinds(m.ledger(f"tenant_id = '{a}'"))
    assert la["trial"][0] == 100 and la["package"] == (50, 1000000)
    assert la["postpaid"] == (50, 50 * 4000)  # tier 0 of the default ladder, 0.04 元
    assert la["call"][0] == 10
    lb = kinds(m.ledger(f"tenant_id = '{b}'"))
    assert lb["trial"][0] == 100 and lb["blocked"] == (5, 0) and "postpaid" not in lb
    assert m.sql("SELECT tenant_id::text, product FROM metering_blocked") == [(b, 4)]
    bal = json.loads(m.ctl("metering", "balance", "--tenant", "block-co", "--json").stdout)
    assert bal["products"][0]["status"] == "blocked"
    assert bal["products"][0]["remaining"] == 0
    # A top-up unblocks: the next calls draw from it.
    m.ctl("metering", "topup", "--tenant", "block-co", "--product", "4", "--size", "10",
          "--unit-price", "0.03")
    assert m.sql("SELECT * FROM metering_blocked") == []
    m.events([ev(b, f"b-after{i}:Verify") for i in range(3)])
    m.wait_consumed(318)
    assert kinds(m.ledger(f"tenant_id = '{b}'"))["package"] == (3, 9000)
    kinds_seen = {(x["tenant_id"], x["kind"]) for x in m.alerts()}
    assert (b, "blocked") in kinds_seen and (a, "postpaid") in kinds_seen
    assert (a, "exhausted") in kinds_seen
    m.reconcile()
    assert m.stop() == 0


def test_expiry_first_then_purchase_order(metering):
    m = metering
    t = m.tenant("exp-co")
    m.start()
    day = 86400 * 1000
    bought = now_ms() - 60000
    # late: expires in 30 days; soon1/soon2: same expiry in 10 days, soon2 bought later.
    for pid, exp, at in (("late", 30, bought), ("soon2", 10, bought + 1000),
                         ("soon1", 10, bought)):
        m.ctl("metering", "topup", "--tenant", t, "--product", "4", "--size", "20",
              "--unit-price", "0.02", "--id", pid, "--purchased-at", str(at), "--expires-at",
              str(bought + exp * day))
    m.events([ev(t, f"e{i}:Verify", at=now_ms()) for i in range(100 + 45)])
    m.wait_consumed(145)
    rows = m.sql("SELECT package_id, sum(calls) FROM metering_ledger WHERE kind = 'package' "
                 "GROUP BY package_id ORDER BY min(src_partition * 1000000 + src_offset)")
    assert rows == [("soon1", 20), ("soon2", 20), ("late", 5)]
    pk = dict(m.sql("SELECT id, remaining FROM metering_packages"))
    assert pk == {"soon1": 0, "soon2": 0, "late": 15}
    # Refund-if-unused: a fresh package can be refunded; a drawn one cannot.
    m.ctl("metering", "topup", "--tenant", t, "--product", "4", "--size", "5", "--price", "1",
          "--id", "spare")
    m.ctl("metering", "refund", "--tenant", t, "--product", "4", "--id", "spare")
    p = m.ctl("metering", "refund", "--tenant", t, "--product", "4", "--id", "late", check=False)
    assert p.returncode == 65 and "drawn" in p.stderr
    assert m.sql("SELECT kind, calls, amount FROM metering_ledger WHERE entry_key = "
                 "'refund:spare'") == [("refund", 5, -100000)]
    m.reconcile()


def test_alerts_fire_once_dedup_and_rearm_after_topup(metering):
    m = metering
    t = m.tenant("alert-co")
    m.start()
    m.ctl("metering", "set", "--tenant", t, "--product", "4", "--alert-calls", "50")
    m.events([ev(t, f"x{i}:Verify") for i in range(80)])  # 20 of 100 trial left
    m.wait_consumed(80)
    # Redelivered events (same ids) change nothing and raise nothing.
    m.events([ev(t, f"x{i}:Verify") for i in range(80)])
    m.wait_consumed(160)
    m.events([ev(t, f"y{i}:Verify") for i in range(20)])  # trial exhausted -> postpaid
    m.wait_consumed(180)
    m.ctl("metering", "topup", "--tenant", t, "--product", "4", "--size", "100", "--price", "3")
    m.events([ev(t, f"z{i}:Verify") for i in range(85)])  # 15 of 100 left
    m.wait_consumed(265)
    got = m.alerts()
    ids = [x["alert_id"] for x in got]
    assert len(ids) == len(set(ids)), "an alert was published twice"
    seq = [(x["kind"], x["threshold"], x["generation"]) for x in got]
    first = [("calls_remaining", 50, 0), ("percent_remaining", 20, 0),
             ("percent_remaining", 10, 0), ("percent_remaining", 0, 0), ("exhausted", 0, 0),
             ("postpaid", 0, 0)]
    again = [("calls_remaining", 50, 1), ("percent_remaining", 20, 1)]
    assert seq == first + again, seq
    assert all(x["tenant_id"] == t and x["product"] == 4 for x in got)
    assert sorted(ids) == [r[0] for r in m.sql(
        "SELECT alert_id::text FROM metering_alerts ORDER BY 1")]
    assert m.one("SELECT sum(duplicates) FROM metering_daily WHERE tenant_id = %s", (t,)) == 80
    m.reconcile()


def test_bad_input_is_dead_lettered_and_counted(metering):
    m = metering
    t = m.tenant("good-co")
    m.start()
    unknown = "00000000-0000-4000-8000-000000000001"
    lines = [
        ev(t, "ok1:Verify"),
        ev(unknown, "u1:Verify"),                        # unknown tenant
        ev(t, "q1:Verify", qty=-3),                      # negative quantity
        ev(t, "q2:Verify", qty=50000),                   # absurd quantity
        ev(t, "f1:Verify", at=now_ms() + 3600 * 1000),   # far in the future
        ev(t, "m1:Verify", sub=205, billable=0),         # flag disagrees with SubCode
        ev(t, "p1:Verify", product=9),                   # unknown product
        ev(t, "ok2:Verify"),
        ev(t, "not-a-certify-id:Verify", raw=True),      # not <32 hex>:<Action>
        ev(t, key("i1") + ":Extra", raw=True),           # a second colon
        ev(t, "s1:Verify", sub=40000),                   # SubCode beyond a smallint
        # An action metering has not seen yet is numbered on first sight and billed.
        ev(t, "ok3", action="Id2MetaVerify"),
    ]
    m.events(lines)
    subprocess.run([m.bins.bench_metering_gen, "garbage", "2", t], env=m.env, check=True)
    m.wait_consumed(14)
    assert kinds(m.ledger())["trial"][0] == 3
    reasons = dict(m.sql("SELECT reason, count(*) FROM metering_rejects GROUP BY reason"))
    assert reasons == {"unknown_tenant": 1, "quantity": 2, "future": 1, "billable": 1,
                       "product": 1, "decode": 2, "event_id": 2, "sub_code": 1}
    off = m.sql("SELECT sum(consumed), sum(applied), sum(rejected) FROM metering_offsets")[0]
    assert off == (14, 3, 11)
    code = m.one("SELECT code FROM metering_actions WHERE name = 'Id2MetaVerify'")
    assert code > 6  # after the seeded ones
    assert m.sql("SELECT kind, calls FROM metering_ledger WHERE entry_key = %s",
                 (key("ok3", "Id2MetaVerify"),)) == [("trial", 1)]
    assert m.one("SELECT count(*) FROM metering_usage WHERE action = %s", (code,)) == 1
    out = subprocess.run([m.bins.bench_metering_gen, "dlq", "20"], env=m.env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    dlq = {k: int(v) for k, v in (l.split() for l in out.splitlines())}
    assert dlq == reasons
    m.reconcile()


def test_action_names_are_numbered_up_to_a_cap(metering):
    """metering_actions numbers at most 1,000 names (a smallint key with room to spare): past
    that an event with a new action is dead-lettered with reason `action`, not billed under a
    wrong number, and the known actions keep working."""
    m = metering
    t = m.tenant("actions-co")
    m.sql("INSERT INTO metering_actions (code, name) SELECT c, 'Filler' || c FROM "
          "generate_series((SELECT max(code) + 1 FROM metering_actions), 999) c")
    m.start()
    m.events([ev(t, "n1", action="LastNumberedVerify"), ev(t, "n2", action="OneTooManyVerify"),
              ev(t, "n3")])
    m.wait_consumed(3)
    assert m.sql("SELECT code FROM metering_actions WHERE name IN ('LastNumberedVerify', "
                 "'OneTooManyVerify')") == [(1000,)]
    assert m.sql("SELECT reason, detail LIKE '%%OneTooManyVerify%%' FROM metering_rejects") == \
        [("action", True)]
    assert kinds(m.ledger())["trial"][0] == 2
    m.reconcile()


def test_not_ready_until_the_migration_it_needs(bins, svc_env, tmp_path, unique):
    """A binary started on a database that is behind it (an upgrade that skipped `shirenctl
    migrate`) reports not ready and says what to do, and consumes nothing; once the migration
    has run it becomes ready by itself."""
    sql = tmp_path / "sql"
    sql.mkdir()
    for f in sorted((ROOT / "deploy" / "sql").glob("*.sql")):
        if f.name < "008":
            (sql / f.name).write_bytes(f.read_bytes())
    env = dict(svc_env, SHIREN_SQL_DIR=str(sql))
    subprocess.run([bins.shirenctl, "migrate"], env=env, check=True, capture_output=True)
    m = Metering(bins, env, tmp_path, unique)
    try:
        m.start(wait=False)
        deadline = time.time() + 20
        code, body = 0, ""
        while time.time() < deadline:
            try:
                code, body = http_get(f"http://127.0.0.1:{m.port}/readyz")
                if code == 503 and '"schema":false' in body:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert code == 503 and '"schema":false' in body, body
        time.sleep(1.5)
        assert http_get(f"http://127.0.0.1:{m.port}/readyz")[0] == 503
        log = (tmp_path / f"metering.{m.starts}.log").read_text()
        assert "the database is at migration 7 and this binary needs 8" in log
        (sql / "008_metering_products.sql").write_bytes(
            (ROOT / "deploy" / "sql" / "008_metering_products.sql").read_bytes())
        subprocess.run([bins.shirenctl, "migrate"], env=env, check=True, capture_output=True)
        m.wait_ready()
    finally:
        m.stop()


def test_late_events_and_period_close(bins, migrated_env, tmp_path, unique):
    m = Metering(bins, migrated_env, tmp_path, unique, sweep_s=3600, max_quantity=1000000)
    try:
        t = m.tenant("late-co")
        m.start()
        # The month before the current one (UTC+8): events on its 15th, ingested then.
        now = time.gmtime((now_ms() + UTC8) / 1000)
        y, mo = (now.tm_year, now.tm_mon - 1) if now.tm_mon > 1 else (now.tm_year - 1, 12)
        prev_id = y * 100 + mo
        mid = calendar.timegm((y, mo, 15, 12, 0, 0)) * 1000 - UTC8
        m.events([ev(t, "big1:Verify", qty=100100, at=mid, ingest=mid + 1000),
                  ev(t, "big2:Verify", qty=50000, at=mid + 2000, ingest=mid + 3000),
                  # the same month's call, only ingested now: after the close -> late
                  ev(t, "late1:Verify", qty=7, at=mid + 5000)])
        m.wait_consumed(3)
        rows = m.sql("SELECT entry_key, period, late_from FROM metering_ledger "
                     "WHERE kind = 'postpaid' ORDER BY entry_key")
        cur_id = now.tm_year * 100 + now.tm_mon
        assert sorted(rows) == sorted([(key("big1:Verify"), prev_id, None),
                                       (key("big2:Verify"), prev_id, None),
                                       (key("late1:Verify"), cur_id, prev_id)])
        assert m.one("SELECT sum(late) FROM metering_daily") == 7
        assert m.stop() == 0
        # A restart with a short sweep closes the previous month: whole-volume settlement.
        m.env["SHIREN_METERING_SWEEP_S"] = "1"
        m.start()
        deadline = time.time() + 20
        while time.time() < deadline and not m.sql("SELECT 1 FROM metering_bill_lines"):
            time.sleep(0.2)
        line = m.sql("SELECT period, mode, calls, charged, settlement, exact, billed, residue "
                     "FROM metering_bill_lines")
        charged = 100000 * 4000 + 50000 * 3500
        assert line == [(prev_id, "volume", 150000, charged, 150000 * 3500 - charged,
                         150000 * 3500, 150000 * 3500, 0)]
        assert m.one("SELECT closed_through FROM metering_state") >= prev_id
        assert m.one("SELECT amount FROM metering_ledger WHERE kind = 'settlement'") == \
            150000 * 3500 - charged
        m.reconcile()
    finally:
        m.stop()


def test_balance_route_reports_and_rebuild(metering):
    m = metering
    t = m.tenant("report-co")
    m.start()
    m.ctl("metering", "topup", "--tenant", t, "--product", "4", "--size", "30", "--price", "3",
          "--id", "r-pkg")
    m.events([ev(t, f"r{i}:Verify", scene=1000000 + i % 2) for i in range(110)])
    m.wait_consumed(110)
    base = f"http://127.0.0.1:{m.port}/v1/balance"
    code, body = http_get(f"{base}?tenant={t}&product=PV_FV")
    assert code == 200
    bal = json.loads(body)
    p = bal["products"][0]
    assert (p["remaining"], p["total"], p["status"]) == (20, 30, "prepaid")
    assert p["packages"][0]["id"] == "r-pkg" and p["packages"][0]["remaining"] == 20
    assert p["as_of"]["offset"] == 109 and p["as_of"]["event_ms"] > 0
    assert sum(w["last_offset"] + 1 for w in bal["watermark"]) == 110
    assert http_get(f"{base}?tenant=nope")[0] == 400
    # Every shiren.v1.Product is known by name and number (this tenant has no PV_FC account).
    code, body = http_get(f"{base}?tenant={t}&product=PV_FC")
    assert code == 200 and json.loads(body)["products"] == []
    assert http_get(f"{base}?tenant={t}&product=8")[0] == 200
    assert http_get(f"{base}?tenant={t}&product=9")[0] == 400
    assert http_get(f"{base}?tenant=00000000-0000-4000-8000-000000000009")[0] == 404
    csv = m.ctl("metering", "usage", "--tenant", t, "--format", "csv").stdout.splitlines()
    assert csv[0].startswith("tenant,tenant_id,product,scene_id,day,calls,billable")
    assert sum(int(l.split(",")[5]) for l in csv[1:]) == 110
    # The per-call export: every usage entry of the month with its event id and source.
    period = m.one("SELECT max(period) FROM metering_ledger WHERE kind = 'trial'")
    out = m.ctl("metering", "export", "--tenant", t, "--period", str(period), "--format",
                "json").stdout
    calls = [json.loads(l) for l in out.splitlines() if l.strip()]  # JSON lines
    usage = [c for c in calls if c["kind"] in ("trial", "package")]
    assert len(usage) == 110
    assert {c["entry_key"] for c in usage} == {key(f"r{i}:Verify") for i in range(110)}
    r105 = next(c for c in usage if c["entry_key"] == key("r105:Verify"))
    assert (r105["kind"], r105["package_id"], r105["calls"], r105["sub_code"]) == \
        ("package", "r-pkg", 1, 200)
    assert r105["src_offset"] is not None and r105["balance_after"] is None
    # Caches are re-derivable from the ledger: corrupt them, check, rebuild, compare.
    snap = m.sql("SELECT id, remaining, status FROM metering_packages ORDER BY id"), m.sql(
        "SELECT * FROM metering_daily ORDER BY 1, 2, 3, 4"), m.sql(
        "SELECT trial_used FROM metering_accounts")
    m.sql("UPDATE metering_packages SET remaining = 30")
    m.sql("UPDATE metering_accounts SET trial_used = 3")
    m.sql("UPDATE metering_daily SET calls = calls + 5, trial = 0")
    p = m.ctl("metering", "rebuild", "--check", check=False)
    assert p.returncode == 1 and "remaining" in p.stdout
    assert m.ctl("metering", "reconcile", check=False).returncode == 1
    m.ctl("metering", "rebuild")
    assert m.ctl("metering", "rebuild", "--check").returncode == 0
    assert (m.sql("SELECT id, remaining, status FROM metering_packages ORDER BY id"),
            m.sql("SELECT * FROM metering_daily ORDER BY 1, 2, 3, 4"),
            m.sql("SELECT trial_used FROM metering_accounts")) == snap
    m.reconcile()
    # The ledger itself refuses changes, in both of its tables.
    for table in ("metering_usage", "metering_entries"):
        with pytest.raises(psycopg.errors.RaiseException):
            m.sql(f"UPDATE {table} SET amount = 0")
        with pytest.raises(psycopg.errors.RaiseException):
            m.sql(f"DELETE FROM {table}")
    # A usage entry reads back through the view with the columns of a full row.
    row = m.sql("SELECT entry_key, seq, kind, package_id, calls, balance_delta, late_from, "
                "sub_code, src_partition IS NOT NULL, src_offset IS NOT NULL, day, "
                "occurred_at_ms FROM metering_ledger WHERE entry_key = %s",
                (key("r105:Verify"),))
    assert row[0][:10] == (key("r105:Verify"), 0, "package", "r-pkg", 1, -1, None, 200, True,
                           True)
    day, at = row[0][10:]
    assert day == int(time.strftime("%Y%m%d", time.gmtime((at + UTC8) / 1000)))
    m.ctl("metering", "topup", "--tenant", t, "--product", "PV_FC", "--size", "5", "--price",
          "1", "--id", "r-pv-fc")
    assert m.one("SELECT product FROM metering_packages WHERE id = 'r-pv-fc'") == 8
    p = m.ctl("metering", "topup", "--tenant", t, "--product", "PV_XX", "--size", "5",
              "--price", "1", "--id", "r-bad", check=False)
    assert p.returncode == 65 and "PV_FC" in p.stderr


def test_expiry_sweep_and_reminders(bins, migrated_env, tmp_path, unique):
    m = Metering(bins, migrated_env, tmp_path, unique, trial_calls=0)
    try:
        t = m.tenant("expiring-co")
        m.start()
        now = now_ms()
        day = 86400 * 1000
        m.ctl("metering", "topup", "--tenant", t, "--product", "4", "--size", "40", "--price",
              "4", "--id", "two-days", "--purchased-at", str(now - 3600000), "--expires-at",
              str(now + 2 * day))
        m.ctl("metering", "topup", "--tenant", t, "--product", "4", "--size", "10", "--price",
              "1", "--id", "soon", "--purchased-at", str(now - 3600000), "--expires-at",
              str(now + 3000))
        deadline = time.time() + 20
        while time.time() < deadline and not m.sql(
                "SELECT 1 FROM metering_ledger WHERE entry_key = 'expire:soon'"):
            time.sleep(0.2)
        assert m.sql("SELECT calls, amount, balance_delta, occurred_at_ms FROM metering_ledger "
                      "WHERE entry_key = 'expire:soon'") == [(10, 100000, -10, now + 3000)]
        assert m.sql("SELECT status, remaining FROM metering_packages WHERE id = 'soon'") == \
            [("expired", 0)]
        got = sorted((a["kind"], a["threshold"], a["package_id"]) for a in m.alerts())
        assert got == sorted([("expiring", 7, "two-days"), ("expiring", 3, "two-days"),
                              ("expiring", 7, "soon"), ("expiring", 3, "soon"),
                              ("expiring", 1, "soon")])
        # The last package expiring with calls left: exhausted (a fresh tenant, in block mode).
        u = m.tenant("last-co")
        m.ctl("metering", "set", "--tenant", u, "--product", "4", "--on-exhaust", "block")
        m.ctl("metering", "topup", "--tenant", u, "--product", "4", "--size", "5", "--price",
              "1", "--id", "last", "--purchased-at", str(now_ms() - 1000), "--expires-at",
              str(now_ms() + 2000))
        deadline = time.time() + 20
        while time.time() < deadline and not m.sql("SELECT 1 FROM metering_blocked"):
            time.sleep(0.2)
        assert m.sql("SELECT tenant_id::text FROM metering_blocked") == [(u,)]
        kinds_u = {a["kind"] for a in m.alerts() if a["tenant_id"] == u}
        assert {"exhausted", "blocked"} <= kinds_u
        m.reconcile()
    finally:
        m.stop()
