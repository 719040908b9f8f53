"""shirenctl against the real PostgreSQL: migrations (once, concurrent, refusals), tenants,
AccessKeys (secret sealed at rest), scenes, and the documented exit codes (docs/cli.md).

Each test runs on its own fresh database (conftest.fresh_db)."""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from conftest import ROOT, run

SQL_DIR = ROOT / "deploy" / "sql"
SQL_FILES = sorted(p.name for p in SQL_DIR.glob("*.sql"))
KEY_ID_RE = re.compile(r"^LTAI[A-Za-z0-9]{20}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9]{30}$")
OTHER_KEY = base64.b64encode(bytes(range(32))).decode()

EX_OK, EX_USAGE, EX_DATA, EX_UNAVAILABLE, EX_CONFIG = 0, 64, 65, 69, 78


@pytest.fixture
def ctl(bins, svc_env):
    """ctl(*args, env=None, expect=0) runs shirenctl and checks its exit code."""

    def _ctl(*args, env=None, expect=EX_OK, drop=()):
        e = dict(svc_env)
        e.update(env or {})
        for k in drop:
            e.pop(k, None)
        p = run([bins.shirenctl, *args], e, check=False)
        assert p.returncode == expect, (
            f"shirenctl {' '.join(args)} exited {p.returncode}, wanted {expect}\n"
            f"stdout:{p.stdout}\nstderr:{p.stderr}"
        )
        if expect != EX_OK:
            # Errors are one line (plus the --help hint for usage errors) on stderr.
            lines = p.stderr.strip().splitlines()
            assert lines and lines[0].startswith("shirenctl: "), p.stderr
            assert len(lines) == (2 if expect == EX_USAGE else 1), p.stderr
        return p

    return _ctl


@pytest.fixture
def db(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as c:
        yield c


@pytest.fixture
def migrated(ctl):
    ctl("migrate")
    return ctl


def master_key(stack_env):
    text = Path(stack_env["SHIREN_MASTER_KEY_FILE"]).read_text().strip()
    return bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text)


def count(db, table):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------- migrations


def test_migrate_applies_once(ctl, db):
    p = ctl("migrate")
    assert f"applied {len(SQL_FILES)} migrations" in p.stdout
    rows = db.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY 1").fetchall()
    assert [r[1] for r in rows] == SQL_FILES
    assert [r[0] for r in rows] == list(range(1, len(SQL_FILES) + 1))
    for _, name, checksum in rows:
        assert checksum == hashlib.sha256((SQL_DIR / name).read_bytes()).hexdigest()
    p = ctl("migrate")
    assert "applied 0 migrations" in p.stdout
    assert count(db, "schema_migrations") == len(SQL_FILES)


def _copy_sql(tmp_path):
    d = tmp_path / "sql"
    shutil.copytree(SQL_DIR, d)
    return d


def test_concurrent_migrate_applies_exactly_once(bins, svc_env, db, tmp_path):
    # A slow first file makes the runners overlap for certain; without the advisory lock the
    # losers would fail on the duplicate table or the schema_migrations primary key.
    d = tmp_path / "sql"
    d.mkdir()
    (d / "001_slow.sql").write_text("SELECT pg_sleep(1);\nCREATE TABLE slow_t (a int);\n")
    (d / "002_second.sql").write_text("CREATE TABLE second_t (a int);\n")
    env = dict(svc_env, SHIREN_SQL_DIR=str(d))
    procs = [
        subprocess.Popen([bins.shirenctl, "migrate"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    applied = [int(re.search(r"applied (\d+) migration", o[0]).group(1)) for o in outs]
    assert sorted(applied) == [0, 0, 0, 2]
    assert count(db, "schema_migrations") == 2


def test_concurrent_migrate_real_files(bins, svc_env, db):
    procs = [
        subprocess.Popen([bins.shirenctl, "migrate"], env=svc_env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 3, outs
    applied = sum(int(re.search(r"applied (\d+) migration", o[0]).group(1)) for o in outs)
    assert applied == len(SQL_FILES)
    assert count(db, "schema_migrations") == len(SQL_FILES)


def test_changed_migration_is_refused(ctl, db, tmp_path):
    d = _copy_sql(tmp_path)
    env = {"SHIREN_SQL_DIR": str(d)}
    ctl("migrate", env=env)
    with open(d / "001_core.sql", "a") as f:
        f.write("\n-- edited after release\n")
    (d / f"{len(SQL_FILES) + 1:03d}_next.sql").write_text("CREATE TABLE next_t (a int);\n")
    p = ctl("migrate", env=env, expect=EX_DATA)
    assert "001_core.sql was changed after it was applied" in p.stderr
    # Verification comes first: the new file was not applied either.
    assert count(db, "schema_migrations") == len(SQL_FILES)
    assert db.execute("SELECT to_regclass('next_t')").fetchone()[0] is None


def _migrated_before(ctl, tmp_path, version):
    """The database migrated up to (not including) migration `version`, from a copy of the
    SQL directory that `version` can be added to later; returns (that dir, its env)."""
    d = tmp_path / "sql"
    d.mkdir()
    for name in SQL_FILES:
        if name < version:
            shutil.copy(SQL_DIR / name, d / name)
    env = {"SHIREN_SQL_DIR": str(d)}
    ctl("migrate", env=env)
    return d, env


def test_compact_ledger_migration_moves_usage_entries(ctl, db, tmp_path):
    """A database that metered with the text-keyed ledger of 003 keeps every entry across 007:
    contract-shaped usage entries move to metering_usage, the rest stay, and the ledger view
    reads the same rows (less balance_after/ingest_ms of the moved ones)."""
    d, env = _migrated_before(ctl, tmp_path, "007")
    t = db.execute("INSERT INTO tenants (name) VALUES ('legacy-co') RETURNING id").fetchone()[0]
    db.execute("INSERT INTO metering_accounts (tenant_id, product, trial_limit, trial_used) "
               "VALUES (%s, 4, 100, 1)", (t,))
    for pid in ("pk-a", "pk-b"):
        db.execute("INSERT INTO metering_packages (id, tenant_id, product, size, remaining, "
                   "unit_price, price_total, purchased_at_ms, expires_at_ms) VALUES "
                   "(%s, %s, 4, 10, 9, 3000, 30000, 1, 2)", (pid, t))
    cid = "91707DC296D469AD38E4C5EFA6A0F24B"
    dup, nul = "abcdef0123456789abcdef0123456789", "0123456789abcdef0123456789abcdef"
    cols = ("entry_key, seq, kind, tenant_id, product, scene_id, package_id, calls, "
            "balance_delta, balance_after, amount, price_version, tier_first, tier_last, "
            "period, day, late_from, occurred_at_ms, ingest_ms, src_partition, src_offset, "
            "sub_code, actor, reason")
    at = 1764547200000 + 3600 * 1000  # 2025-12-01 09:00 UTC+8
    rows = [
        (f"{cid}:CompareFaceVerify", 0, "trial", t, 4, 7, None, 1, -1, 99, 0, None, None,
         None, 202512, 20251201, None, at, at + 5, 1, 10, 200, None, None),
        (f"{cid}:CompareFaceVerify", 1, "package", t, 4, 7, "pk-b", 1, -1, 9, 3000, None, None,
         None, 202512, 20251201, None, at, at + 5, 1, 10, 200, None, None),
        (f"{cid.lower()}:Id2MetaVerify", 0, "postpaid", t, 4, 7, None, 2, 0, None, 8000, 1, 0,
         0, 202601, 20251201, 202512, at, at + 5, 0, 11, 201, None, None),
        ("a1:Verify", 0, "call", t, 4, 7, None, 1, 0, None, 0, None, None, None, 202512,
         20251201, None, at, at + 5, 0, 12, 107, None, None),
        ("topup:pk-b", 0, "topup", t, 4, 0, "pk-b", 10, 10, 10, 30000, None, None, None,
         202512, 20251201, None, at, None, None, None, None, "ops", "bought"),
        # The old decoder kept ids as sent: one call twice, its CertifyId in two cases. One
        # spelling moves, the other stays where it is.
        (f"{dup.upper()}:CompareFaceVerify", 0, "call", t, 4, 7, None, 1, 0, None, 0, None,
         None, None, 202512, 20251201, None, at, None, 1, 13, 107, None, None),
        (f"{dup}:CompareFaceVerify", 0, "call", t, 4, 7, None, 1, 0, None, 0, None, None, None,
         202512, 20251201, None, at, None, 1, 14, 107, None, None),
        # A SubCode the old decoder stored as NULL, and no source record (not from Kafka).
        (f"{nul}:InitFaceVerify", 0, "call", t, 4, 7, None, 1, 0, None, 0, None, None, None,
         202512, 20251201, None, at, None, None, None, None, None, None),
    ]
    marks = ", ".join(["%s"] * 24)
    for r in rows:
        db.execute(f"INSERT INTO metering_ledger ({cols}) VALUES ({marks})", r)
    before = db.execute(f"SELECT {cols} FROM metering_ledger ORDER BY entry_key, seq").fetchall()
    diff_before = sorted(db.execute("SELECT * FROM metering_cache_diff()").fetchall())

    shutil.copy(SQL_DIR / "007_metering_compact.sql", d / "007_metering_compact.sql")
    ctl("migrate", env=env)
    after = db.execute(f"SELECT {cols} FROM metering_ledger ORDER BY entry_key, seq").fetchall()
    moved = {f"{cid.lower()}:CompareFaceVerify", f"{cid.lower()}:Id2MetaVerify"}

    def shown(r):
        r = list(r)
        c, _, a = r[0].partition(":")
        if c in (cid, dup.upper()):  # read back with the CertifyId in lower case
            r[0] = f"{c.lower()}:{a}"
        if r[0] in moved:
            r[9] = r[18] = None  # balance_after, ingest_ms: not kept for usage entries
        return tuple(r)

    assert sorted(after) == sorted(shown(r) for r in before)
    assert db.execute("SELECT count(*) FROM metering_usage").fetchone()[0] == 5
    assert sorted(db.execute("SELECT entry_key FROM metering_entries").fetchall()) == \
        sorted([(f"{dup}:CompareFaceVerify",), ("a1:Verify",), ("topup:pk-b",)])
    # The derived values (what the caches must be) are those of before.
    assert sorted(db.execute("SELECT * FROM metering_cache_diff()").fetchall()) == diff_before
    assert diff_before  # (the hand-made ledger has no caches: the diff is not empty)
    assert db.execute("SELECT name FROM metering_actions WHERE code > 6").fetchall() == \
        [("Id2MetaVerify",)]
    # Packages are numbered; the moved package draw points at its number.
    assert db.execute("SELECT p.id FROM metering_usage u JOIN metering_packages p ON "
                      "p.no = u.package_no").fetchall() == [("pk-b",)]
    # A metering binary of before 007 keeps working through an upgrade: it COPYs full rows
    # into metering_ledger, now a view, and each lands where the new one would put it.
    at2 = at + 60000
    later = [
        (f"{cid}:Id2MetaStandardVerify", 0, "package", t, 4, 7, "pk-a", 1, -1, 8, 3000, None,
         None, None, 202512, 20251201, None, at2, at2 + 5, 1, 20, 200, None, None),
        ("b2:Verify", 0, "call", t, 4, 7, None, 1, 0, None, 0, None, None, None, 202512,
         20251201, None, at2, at2 + 5, 0, 21, 107, None, None),
        ("refund:pk-a", 0, "refund", t, 4, 0, "pk-a", 10, -10, 0, -30000, None, None, None,
         202512, 20251201, None, at2, None, None, None, None, "ops", "unused"),
    ]
    # The same call again in the other letter case (a pre-007 binary did not recognise it):
    # its key is taken, so the row keeps its text key in metering_entries.
    later.append((f"{cid}:CompareFaceVerify".lower().replace("comparefaceverify",
                                                               "CompareFaceVerify"),
                  2, "postpaid", t, 4, 7, None, 1, 0, None, 4000, 1, 0, 0, 202512, 20251201,
                  None, at2, at2 + 5, 1, 22, 200, None, None))
    later.append((f"{cid}:CompareFaceVerify", 2, "postpaid", t, 4, 7, None, 1, 0, None, 4000,
                  1, 0, 0, 202512, 20251201, None, at2, at2 + 5, 1, 23, 200, None, None))
    with db.cursor().copy(f"COPY metering_ledger ({cols}) FROM STDIN") as cp:
        for r in later:
            cp.write_row(r)
    assert db.execute("SELECT count(*) FROM metering_usage").fetchone()[0] == 7
    assert db.execute("SELECT count(*) FROM metering_entries").fetchone()[0] == 6
    assert db.execute("SELECT entry_key FROM metering_entries WHERE src_offset = 23"
                      ).fetchall() == [(f"{cid}:CompareFaceVerify",)]
    assert db.execute(f"SELECT {cols} FROM metering_ledger WHERE src_offset = 20").fetchall() \
        == [shown((f"{cid.lower()}:Id2MetaStandardVerify",) + later[0][1:9] + (None,) +
                  later[0][10:18] + (None,) + later[0][19:])]
    assert db.execute("SELECT code FROM metering_actions WHERE name = "
                      "'Id2MetaStandardVerify'").fetchone()[0] == 8  # numbered on the way in
    assert db.execute("SELECT entry_key, calls FROM metering_ledger WHERE entry_key IN "
                      "('b2:Verify', 'refund:pk-a') ORDER BY 1").fetchall() == \
        [("b2:Verify", 1), ("refund:pk-a", 10)]
    # History cannot be rewritten through the numbering either.
    for q in ("UPDATE metering_actions SET name = 'Other' WHERE code = 5",
              "DELETE FROM metering_actions", "TRUNCATE metering_usage",
              "UPDATE metering_packages SET no = 99", "UPDATE metering_packages SET no = DEFAULT",
              "DELETE FROM metering_packages WHERE id = 'pk-a'"):
        with pytest.raises(psycopg.Error):
            db.execute(q)


def test_compact_ledger_migration_refuses_what_it_cannot_keep(ctl, db, tmp_path):
    """A usage entry the compact row cannot reproduce (its package is gone) stops the
    migration with a clear error, and nothing is changed."""
    d, env = _migrated_before(ctl, tmp_path, "007")
    t = db.execute("INSERT INTO tenants (name) VALUES ('gone-co') RETURNING id").fetchone()[0]
    key = "0123456789abcdef0123456789abcdef:CompareFaceVerify"
    db.execute("INSERT INTO metering_ledger (entry_key, seq, kind, tenant_id, product, "
               "package_id, calls, balance_delta, amount, period, day, occurred_at_ms, "
               "sub_code) VALUES (%s, 0, 'package', %s, 4, 'pk-gone', 1, -1, 3000, 202512, "
               "20251201, 1764550800000, 200)", (key, t))
    shutil.copy(SQL_DIR / "007_metering_compact.sql", d / "007_metering_compact.sql")
    p = ctl("migrate", env=env, expect=EX_DATA)
    assert "cannot be kept exactly" in p.stderr and key in p.stderr
    assert db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == 6
    assert db.execute("SELECT to_regclass('metering_usage')").fetchone()[0] is None
    assert db.execute("SELECT count(*) FROM metering_ledger").fetchone()[0] == 1


def test_renamed_migration_is_refused(ctl, db, tmp_path):
    d = _copy_sql(tmp_path)
    env = {"SHIREN_SQL_DIR": str(d)}
    ctl("migrate", env=env)
    (d / "001_core.sql").rename(d / "001_renamed.sql")
    p = ctl("migrate", env=env, expect=EX_DATA)
    assert "001_renamed.sql" in p.stderr and "renamed" in p.stderr


@pytest.mark.parametrize(
    "files, message",
    [
        ({"001_a.sql": "SELECT 1;", "003_c.sql": "SELECT 1;"}, "gap"),
        ({"001_a.sql": "SELECT 1;", "001_b.sql": "SELECT 1;"}, "same number 1"),
        ({"001_a.sql": "SELECT 1;", "2_b.sql": "SELECT 1;"}, "malformed migration file name"),
        ({"002_b.sql": "SELECT 1;"}, "gap"),
    ],
)
def test_bad_numbering_is_refused_before_touching_db(ctl, db, tmp_path, files, message):
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    p = ctl("migrate", env={"SHIREN_SQL_DIR": str(tmp_path)}, expect=EX_DATA)
    assert message in p.stderr
    assert db.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None


def test_failing_migration_rolls_back_that_file(ctl, db, tmp_path):
    d = _copy_sql(tmp_path)
    bad = f"{len(SQL_FILES) + 1:03d}_bad.sql"
    (d / bad).write_text("CREATE TABLE half_t (a int);\n\nSELECT no_such_column FROM half_t;\n")
    p = ctl("migrate", env={"SHIREN_SQL_DIR": str(d)}, expect=EX_DATA)
    assert bad in p.stderr and "42703" in p.stderr and "line 3" in p.stderr
    assert count(db, "schema_migrations") == len(SQL_FILES)
    assert db.execute("SELECT to_regclass('half_t')").fetchone()[0] is None


def test_database_newer_than_files_is_refused(ctl, db, tmp_path):
    ctl("migrate")
    d = tmp_path / "old"
    d.mkdir()
    shutil.copy(SQL_DIR / "001_core.sql", d)
    p = ctl("migrate", env={"SHIREN_SQL_DIR": str(d)}, expect=EX_DATA)
    assert "newer" in p.stderr


def test_missing_sql_dir_is_config_error(ctl):
    p = ctl("migrate", env={"SHIREN_SQL_DIR": "/nonexistent/sql"}, expect=EX_CONFIG)
    assert "/nonexistent/sql" in p.stderr


# ---------------------------------------------------------------- tenants


def test_tenant_create_and_list(migrated, db):
    ctl = migrated
    p = ctl("tenant", "create", "acme")
    assert re.search(r"^id:\s+[0-9a-f-]{36}$", p.stdout, re.M)
    created = json_lines(ctl("tenant", "create", "globex", "--json").stdout)[0]
    assert created["name"] == "globex" and created["status"] == "active"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", created["created_at"])

    table = ctl("tenant", "list").stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "STATUS", "KEYS", "SCENES", "CREATED_AT"]
    assert [line.split()[1] for line in table[1:]] == ["acme", "globex"]
    rows = json_lines(ctl("tenant", "list", "--json").stdout)
    assert {r["name"] for r in rows} == {"acme", "globex"}
    assert all(r["keys"] == 0 and r["scenes"] == 0 for r in rows)


def test_tenant_bad_input_changes_nothing(migrated, db):
    ctl = migrated
    ctl("tenant", "create", "acme")
    p = ctl("tenant", "create", "acme", expect=EX_DATA)
    assert "already exists" in p.stderr
    for bad in ["has space", "-dash", "x" * 65, "7bee63d9-5523-4094-a2ca-394c1d80ee53",
                "acme'; DROP TABLE tenants; --"]:
        ctl("tenant", "create", "--", bad, expect=EX_DATA)
    assert count(db, "tenants") == 1


# ---------------------------------------------------------------- keys


def _key_row(db, key_id):
    return db.execute(
        "SELECT tenant_id::text, secret_enc, status, disabled_at FROM access_keys "
        "WHERE access_key_id = %s", (key_id,)).fetchone()


def _open(blob, key, key_id):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    # common/crypto.h: version byte | 12-byte nonce | ciphertext | 16-byte tag; the version
    # byte is authenticated ahead of the caller's AAD.
    assert blob[0] == 1
    return AESGCM(key).decrypt(blob[1:13], blob[13:], blob[:1] + f"access_keys:{key_id}".encode())


def test_key_create_stores_secret_sealed(migrated, db, stack_env):
    ctl = migrated
    ctl("tenant", "create", "acme")
    out = json_lines(ctl("key", "create", "--tenant", "acme", "--json").stdout)[0]
    key_id, secret = out["access_key_id"], out["access_key_secret"]
    assert KEY_ID_RE.match(key_id) and SECRET_RE.match(secret)
    assert out["tenant"] == "acme" and out["endpoint"] == "http://127.0.0.1:8900"

    tenant_id, blob, status, disabled_at = _key_row(db, key_id)
    blob = bytes(blob)
    assert out["tenant_id"] == tenant_id and status == "enabled" and disabled_at is None
    assert len(blob) == len(secret) + 29
    assert secret.encode() not in blob
    # The whole row, as PostgreSQL renders it, does not carry the secret either.
    row_text = db.execute("SELECT k::text FROM access_keys k WHERE access_key_id = %s",
                          (key_id,)).fetchone()[0]
    assert secret not in row_text

    pytest.importorskip("cryptography")
    from cryptography.exceptions import InvalidTag

    assert _open(blob, master_key(stack_env), key_id) == secret.encode()
    with pytest.raises(InvalidTag):
        _open(blob, bytes(32), key_id)
    with pytest.raises(InvalidTag):  # bound to its own id by the AAD
        _open(blob, master_key(stack_env), "LTAI" + "0" * 20)


def test_key_create_text_output_and_snippets(migrated, db):
    ctl = migrated
    ctl("tenant", "create", "acme")
    p = ctl("key", "create", "--tenant", "acme", "--endpoint", "https://api.example.com")
    key_id = re.search(r"^AccessKeyId:\s+(\S+)$", p.stdout, re.M).group(1)
    secret = re.search(r"^AccessKeySecret:\s+(\S+)$", p.stdout, re.M).group(1)
    assert KEY_ID_RE.match(key_id) and SECRET_RE.match(secret)
    assert "@alicloud/cloudauth20190307" in p.stdout and "@alicloud/pop-core" in p.stdout
    assert f"accessKeyId: '{key_id}'" in p.stdout
    assert f"accessKeySecret: '{secret}'" in p.stdout
    assert "endpoint: 'api.example.com'" in p.stdout and "protocol: 'https'" in p.stdout
    assert "endpoint: 'https://api.example.com'" in p.stdout
    assert "apiVersion: '2019-03-07'" in p.stdout
    # Default endpoint from the environment.
    p = ctl("key", "create", "--tenant", "acme", env={"SHIREN_PUBLIC_ENDPOINT": "10.0.0.5:8443"})
    assert "endpoint: '10.0.0.5:8443'" in p.stdout and "protocol: 'http'" in p.stdout
    assert count(db, "access_keys") == 2


def test_key_create_by_tenant_id(migrated, db):
    ctl = migrated
    tid = json_lines(ctl("tenant", "create", "acme", "--json").stdout)[0]["id"]
    out = json_lines(ctl("key", "create", "--tenant", tid.upper(), "--json").stdout)[0]
    assert out["tenant_id"] == tid


def test_key_create_other_master_key(migrated, db, stack_env):
    ctl = migrated
    ctl("tenant", "create", "acme")
    out = json_lines(ctl("key", "create", "--tenant", "acme", "--json",
                         env={"SHIREN_MASTER_KEY": OTHER_KEY},
                         drop=["SHIREN_MASTER_KEY_FILE"]).stdout)[0]
    blob = bytes(_key_row(db, out["access_key_id"])[1])
    assert len(blob) == 59
    pytest.importorskip("cryptography")
    from cryptography.exceptions import InvalidTag

    assert _open(blob, base64.b64decode(OTHER_KEY), out["access_key_id"]) == \
        out["access_key_secret"].encode()
    with pytest.raises(InvalidTag):
        _open(blob, master_key(stack_env), out["access_key_id"])


def test_key_create_config_and_data_errors(migrated, db):
    ctl = migrated
    ctl("tenant", "create", "acme")
    p = ctl("key", "create", "--tenant", "acme", env={"SHIREN_MASTER_KEY": "not-a-key"},
            drop=["SHIREN_MASTER_KEY_FILE"], expect=EX_CONFIG)
    assert "SHIREN_MASTER_KEY is malformed" in p.stderr
    ctl("key", "create", "--tenant", "acme", env={"SHIREN_MASTER_KEY": "ab" * 31},
        drop=["SHIREN_MASTER_KEY_FILE"], expect=EX_CONFIG)
    p = ctl("key", "create", "--tenant", "acme", drop=["SHIREN_MASTER_KEY_FILE"],
            expect=EX_CONFIG)
    assert "SHIREN_MASTER_KEY" in p.stderr
    ctl("key", "create", "--tenant", "acme", env={"SHIREN_MASTER_KEY_FILE": "/nonexistent/key"},
        expect=EX_CONFIG)
    p = ctl("key", "create", "--tenant", "nosuch", expect=EX_DATA)
    assert "no tenant" in p.stderr
    ctl("key", "create", "--tenant", "acme", "--endpoint", "no-port", expect=EX_DATA)
    ctl("key", "create", "--tenant", "acme", "--endpoint", "ftp://x:1", expect=EX_DATA)
    assert count(db, "access_keys") == 0


def test_key_list_and_disable(migrated, db):
    ctl = migrated
    ctl("tenant", "create", "acme")
    ctl("tenant", "create", "globex")
    a = json_lines(ctl("key", "create", "--tenant", "acme", "--json").stdout)[0]
    g = json_lines(ctl("key", "create", "--tenant", "globex", "--json").stdout)[0]

    listing = ctl("key", "list").stdout
    assert a["access_key_secret"] not in listing and g["access_key_secret"] not in listing
    assert listing.splitlines()[0].split() == [
        "ACCESS_KEY_ID", "TENANT", "STATUS", "CREATED_AT", "DISABLED_AT"]
    rows = json_lines(ctl("key", "list", "--json").stdout)
    assert {r["access_key_id"] for r in rows} == {a["access_key_id"], g["access_key_id"]}
    assert all("secret" not in k for r in rows for k in r)
    only = json_lines(ctl("key", "list", "--tenant", "globex", "--json").stdout)
    assert [r["access_key_id"] for r in only] == [g["access_key_id"]]
    ctl("key", "list", "--tenant", "nosuch", expect=EX_DATA)

    p = ctl("key", "disable", a["access_key_id"])
    assert "disabled" in p.stdout
    _, _, status, disabled_at = _key_row(db, a["access_key_id"])
    assert status == "disabled" and disabled_at is not None
    p = ctl("key", "disable", a["access_key_id"])  # idempotent
    assert "already disabled" in p.stdout
    assert _key_row(db, a["access_key_id"])[3] == disabled_at
    assert _key_row(db, g["access_key_id"])[2] == "enabled"
    ctl("key", "disable", "LTAI" + "0" * 20, expect=EX_DATA)
    ctl("key", "disable", "not-a-key", expect=EX_DATA)
    rows = {r["access_key_id"]: r for r in json_lines(ctl("key", "list", "--json").stdout)}
    assert rows[a["access_key_id"]]["status"] == "disabled"
    assert rows[a["access_key_id"]]["disabled_at"] is not None
    assert rows[g["access_key_id"]]["disabled_at"] is None
    tenants = {r["name"]: r for r in json_lines(ctl("tenant", "list", "--json").stdout)}
    assert tenants["acme"]["keys"] == 0 and tenants["globex"]["keys"] == 1


# ---------------------------------------------------------------- scenes


def test_scene_create_and_list(migrated, db):
    ctl = migrated
    ctl("tenant", "create", "acme")
    ctl("tenant", "create", "globex")
    s1 = json_lines(ctl("scene", "create", "--tenant", "acme", "--name", "login", "--product",
                        "ID_PRO", "--model", "LIVENESS", "--callback-url",
                        "https://cb.example.com/hook?x=1", "--json").stdout)[0]
    assert s1["scene_id"] == 1000001
    assert s1["callback_url"] == "https://cb.example.com/hook?x=1" and s1["oss_target"] is None
    p = ctl("scene", "create", "--tenant", "globex", "--name", "登录", "--product", "ID_MIN",
            "--model", "FRONT_CAMERA_LIVENESS", "--oss-target", "archive")
    assert re.search(r"^scene_id:\s+1000002$", p.stdout, re.M)
    # The same name in another tenant is fine.
    ctl("scene", "create", "--tenant", "globex", "--name", "login", "--product", "PV_FV",
        "--model", "PHOTINUS_LIVENESS")

    table = ctl("scene", "list").stdout.splitlines()
    assert table[0].split()[:5] == ["SCENE_ID", "TENANT", "NAME", "PRODUCT_CODE", "MODEL"]
    assert [line.split()[0] for line in table[1:]] == ["1000001", "1000002", "1000003"]
    rows = json_lines(ctl("scene", "list", "--tenant", "globex", "--json").stdout)
    assert [(r["scene_id"], r["name"]) for r in rows] == [(1000002, "登录"), (1000003, "login")]
    assert rows[0]["oss_target"] == "archive" and rows[0]["model"] == "FRONT_CAMERA_LIVENESS"
    ctl("scene", "list", "--tenant", "nosuch", expect=EX_DATA)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--product", "ID_PRO", "--model", "LIVENESS"], "already has a scene"),
        (["--product", "NOPE", "--model", "LIVENESS"], "unknown product code"),
        (["--product", "ID_PRO", "--model", "BLINK"], "unknown model"),
        (["--product", "ID_MIN", "--model", "LIVENESS"], "server-side"),
        (["--product", "ID_PRO", "--model", "FRONT_CAMERA_LIVENESS"], "server-side"),
        (["--product", "ID_PRO", "--model", "LIVENESS", "--callback-url", "ftp://x/"],
         "callback-url"),
        (["--product", "ID_PRO", "--model", "LIVENESS", "--callback-url", "https://a b/"],
         "callback-url"),
        (["--product", "ID_PRO", "--model", "LIVENESS", "--callback-url",
          "https://u:p@cb.example.com/"], "user info"),
        (["--product", "ID_PRO", "--model", "LIVENESS", "--oss-target", "../etc"],
         "oss-target"),
    ],
)
def test_scene_bad_input_changes_nothing(migrated, db, extra, message):
    ctl = migrated
    ctl("tenant", "create", "acme")
    ctl("scene", "create", "--tenant", "acme", "--name", "login", "--product", "ID_PRO",
        "--model", "LIVENESS")
    p = ctl("scene", "create", "--tenant", "acme", "--name", "login" if "already" in message
            else "other", *extra, expect=EX_DATA)
    assert message in p.stderr
    assert count(db, "scenes") == 1


def test_scene_unknown_tenant_and_bad_name(migrated, db):
    ctl = migrated
    ctl("tenant", "create", "acme")
    ctl("scene", "create", "--tenant", "nosuch", "--name", "n", "--product", "ID_PRO",
        "--model", "LIVENESS", expect=EX_DATA)
    ctl("scene", "create", "--tenant", "acme", "--name", "a\tb", "--product", "ID_PRO",
        "--model", "LIVENESS", expect=EX_DATA)
    ctl("scene", "create", "--tenant", "acme", "--name", "x" * 65, "--product", "ID_PRO",
        "--model", "LIVENESS", expect=EX_DATA)
    assert count(db, "scenes") == 0


# ---------------------------------------------------------------- usage, help, environment

HELP_TOPICS = [[], ["migrate"], ["tenant"], ["tenant", "create"], ["tenant", "list"], ["key"],
               ["key", "create"], ["key", "disable"], ["key", "list"], ["scene"],
               ["scene", "create"], ["scene", "list"]]


@pytest.mark.parametrize("topic", HELP_TOPICS, ids=lambda t: " ".join(t) or "top")
def test_help_everywhere_without_config(bins, topic):
    # Help needs neither configuration nor a database.
    env = {"PATH": os.environ.get("PATH", "/usr/bin")}
    for flag in ("--help", "-h"):
        p = run([bins.shirenctl, *topic, flag], env, check=False)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith("Usage: shirenctl") and p.stderr == ""


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "missing command"),
        (["frob"], "unknown command"),
        (["tenant"], "missing subcommand"),
        (["tenant", "create"], "missing NAME"),
        (["tenant", "list", "--bogus"], "unknown option '--bogus'"),
        (["key", "create"], "missing --tenant"),
        (["key", "disable"], "missing ACCESS_KEY_ID"),
        (["scene", "create", "--tenant", "t", "--name", "n", "--product", "ID_PRO"],
         "missing --model"),
        (["scene", "list", "--tenant"], "needs a value"),
    ],
)
def test_usage_errors(ctl, db, args, message):
    p = ctl(*args, expect=EX_USAGE)
    assert message in p.stderr and "--help" in p.stderr.splitlines()[1]


def test_environment_errors(ctl, svc_env):
    p = ctl("tenant", "list", env={"SHIREN_PG_DSN": "host=127.0.0.1 port=1 dbname=x"},
            expect=EX_UNAVAILABLE)
    assert "cannot connect to PostgreSQL" in p.stderr
    ctl("tenant", "list", env={"SHIREN_PG_DSN": "nonsense=1"}, expect=EX_CONFIG)
    ctl("tenant", "list", drop=["SHIREN_PG_DSN"], expect=EX_CONFIG)
    ctl("tenant", "list", env={"SHIREN_PUBLIC_ENDPOINT": "bad endpoint"}, expect=EX_CONFIG)
    # A database nobody migrated: a clear hint, exit 78.
    p = ctl("tenant", "list", expect=EX_CONFIG)
    assert "shirenctl migrate" in p.stderr
