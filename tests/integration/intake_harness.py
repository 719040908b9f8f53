"""Helpers for the shiren-intake integration tests (test_intake_*.py): start/stop an intake on
unique ports against a migrated fresh database, create a tenant, keys and scenes with shirenctl,
publish a VerifyCompleted (standing in for the liveness service) with kcat, build test images,
and snapshot the database so a refused request can be shown to change nothing."""
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zlib

import psycopg

from conftest import run

TOPIC_COMPLETED = "shiren.verify.completed.v1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http_get(url, timeout=3):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Service:
    """One service process on its own admin port, its log in a temporary file: started, waited
    for until /readyz answers 200, stopped with SIGTERM (or killed) by the test."""

    name = "service"
    ready_timeout = 30

    def __init__(self, binary, env, settings, extra):
        self.binary = binary
        self.admin_port = free_port()
        self.env = {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}
        self.env["SHIREN_ADMIN_ADDR"] = f"127.0.0.1:{self.admin_port}"
        self.env.update(settings)
        self.env.update({k: str(v) for k, v in extra.items()})
        self.log = tempfile.NamedTemporaryFile(prefix=self.name + "-", suffix=".log",
                                               delete=False)
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([self.binary], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self):
        deadline = time.time() + self.ready_timeout
        body = ""
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n"
                                     f"{self.logs()}")
            try:
                code, body = http_get(f"http://127.0.0.1:{self.admin_port}/readyz")
                if code == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready: {body}\n{self.logs()[-5000:]}")

    def metrics(self):
        return http_get(f"http://127.0.0.1:{self.admin_port}/metrics")[1]

    def logs(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def log_lines(self):
        out = []
        for line in self.logs().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        rc = self.proc.returncode
        if os.path.exists(self.log.name):
            os.unlink(self.log.name)
        return rc


class Intake(Service):
    """One shiren-intake process on its own public and admin ports."""

    name = "intake"

    def __init__(self, bins, env, **extra):
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        super().__init__(bins.shiren_intake, env, {
            "SHIREN_INTAKE_ADDR": self.addr,
            # A group of its own: other intakes on this Kafka must not take its partitions.
            "SHIREN_INTAKE_CONSUMER_GROUP": "t-intake-" + uuid.uuid4().hex[:12],
        }, extra)


class Tenant:
    """A tenant with an enabled key, a disabled key and one scene per product used."""

    def __init__(self, bins, env, name=None, scenes=(("ID_PRO", "LIVENESS"),)):
        self.name = name or "t" + uuid.uuid4().hex[:10]
        out = run([bins.shirenctl, "tenant", "create", self.name, "--json"], env).stdout
        self.id = json.loads(out)["id"]
        self.key = self._key(bins, env)
        self.scenes = {}
        for product, model in scenes:
            out = run([bins.shirenctl, "scene", "create", "--tenant", self.name, "--name",
                       f"sdk-{product.lower().replace('_', '-')}", "--product", product,
                       "--model", model, "--json"], env).stdout
            self.scenes[product] = json.loads(out)["scene_id"]

    def _key(self, bins, env):
        out = run([bins.shirenctl, "key", "create", "--tenant", self.name, "--json"], env).stdout
        k = json.loads(out)
        return k["access_key_id"], k["access_key_secret"]

    def disabled_key(self, bins, env):
        k = self._key(bins, env)
        run([bins.shirenctl, "key", "disable", k[0]], env)
        return k


# ---- VerifyCompleted, hand-encoded protobuf (proto/shiren/v1/verify.proto) ----

def _varint(n):
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _field(num, wire, payload):
    key = _varint(num << 3 | wire)
    if wire == 0:
        return key + _varint(payload)
    if wire == 1:
        return key + struct.pack("<d", payload)
    data = payload.encode() if isinstance(payload, str) else payload
    return key + _varint(len(data)) + data


def verify_completed(certify_id, tenant_id, *, passed=True, sub_code=200, verify_score=91.25,
                     liveness_score=97.0, quality_score=88.5, face_photo_id=0,
                     device_token="sdk-device-token", completed_at_ms=None):
    now = int(time.time() * 1000)
    env = (_field(1, 2, str(uuid.uuid4())) + _field(2, 2, tenant_id) +
           _field(3, 2, "test") + _field(4, 0, now) + _field(5, 2, "shiren-liveness"))
    msg = _field(1, 2, env) + _field(2, 2, certify_id) + _field(3, 2, "InitFaceVerify")
    msg += _field(6, 0, 1 if passed else 0) + _field(7, 0, sub_code)
    msg += _field(8, 1, verify_score) + _field(9, 1, liveness_score) + _field(10, 1, quality_score)
    msg += _field(11, 0, 1) + _field(13, 0, completed_at_ms or now)
    if face_photo_id:
        msg += _field(14, 0, face_photo_id)
    if device_token:
        msg += _field(15, 2, device_token)
    return msg


def publish(brokers, topic, key, payload):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(payload)
    try:
        subprocess.run(["kcat", "-P", "-b", brokers, "-t", topic, "-k", key, f.name],
                       check=True, timeout=30, capture_output=True)
    finally:
        os.unlink(f.name)


def wait_for(pred, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# ---- images ----

def make_png(width=64, height=64, seed=1):
    """A valid RGB PNG (no third-party imaging library needed)."""
    rows = b""
    for y in range(height):
        rows += b"\x00" + bytes(((x * 7 + y * 13 + seed) % 256) for x in range(width * 3))
    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) +
            chunk(b"IEND", b""))


def id_card_number(birth="19900101", seq="123"):
    body = "330103" + birth + seq
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * k for c, k in zip(body, w)) % 11]


# ---- database snapshots ----

def snapshot(dsn, skip=("inbox", "outbox")):
    """Row count and content digest of every table, plus every sequence's last value. Skipped
    by default: `inbox` (it records Kafka messages consumed, whoever produced them) and the
    rows of `outbox` (the relay deletes them once published); outbox_id_seq still shows any
    message enqueued."""
    out = {}
    with psycopg.connect(dsn, autocommit=True) as c:
        tables = [r[0] for r in c.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        for t in tables:
            if t in skip:
                continue
            out[t] = c.execute(
                f'SELECT count(*), md5(coalesce(string_agg(x::text, \',\' ORDER BY x::text), \'\')) '
                f'FROM "{t}" x').fetchone()
        for (s,) in c.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"):
            out["seq:" + s] = c.execute(f'SELECT last_value FROM "{s}"').fetchone()[0]
    return out


class MigratedDb:
    """A fresh migrated database for a whole test module (conftest's fresh_db is per test):
    `with MigratedDb(stack_env, bins) as env: ...` gives the service environment."""

    def __init__(self, stack_env, bins):
        self.stack_env, self.bins = stack_env, bins
        self.name = "t_" + uuid.uuid4().hex[:16]

    def __enter__(self):
        admin = self.stack_env["SHIREN_PG_DSN"]
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{self.name}"')
        env = dict(os.environ)
        env.update(self.stack_env)
        env["SHIREN_PG_DSN"] = admin.replace("dbname=shiren", f"dbname={self.name}")
        from conftest import ROOT
        env["SHIREN_SQL_DIR"] = str(ROOT / "deploy" / "sql")
        run([self.bins.shirenctl, "migrate"], env)
        return env

    def __exit__(self, *exc):
        admin = self.stack_env["SHIREN_PG_DSN"]
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                      (self.name,))
            c.execute(f'DROP DATABASE IF EXISTS "{self.name}"')


def seq_used(db, name):
    """How many values sequence `name` has handed out (a fresh sequence shows last_value 1 with
    is_called false; after its first nextval, last_value 1 with is_called true)."""
    return db.execute(
        f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {name}"
    ).fetchone()[0]
