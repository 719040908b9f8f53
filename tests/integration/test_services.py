"""The five daemons: config errors exit 78 with one log line, unreachable dependencies are
retried and reported on /readyz (no crash loop), readiness on the real stack, topics created,
Prometheus metrics, JSON logs, and a clean drain (exit 0) on SIGTERM."""
import json
import socket
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

SERVICES = ["intake", "upstream", "liveness", "exporter", "metering"]
NEEDS_MASTER_KEY = {"intake", "liveness", "exporter"}
TOPICS = {
    "intake": ["shiren.liveness.jobs.v1", "shiren.verify.requested.v1", "shiren.usage.v1",
               "shiren.verify.completed.v1"],
    "metering": ["shiren.usage.v1", "shiren.quota.alerts.v1"],
}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def json_lines(text):
    out = []
    for line in text.splitlines():
        if line.strip():
            out.append(json.loads(line))  # every line must be JSON
    return out


@pytest.mark.parametrize("svc", SERVICES)
def test_bad_config_exits_78_with_one_line(svc, bins, svc_env):
    env = dict(svc_env, SHIREN_TOPIC_PARTITIONS="many")
    p = subprocess.run([getattr(bins, f"shiren_{svc}")], env=env, capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 78
    lines = json_lines(p.stdout)
    assert len(lines) == 1
    assert lines[0]["level"] == "error"
    assert "SHIREN_TOPIC_PARTITIONS" in lines[0]["error"]

    env = dict(svc_env)
    del env["SHIREN_PG_DSN"]
    p = subprocess.run([getattr(bins, f"shiren_{svc}")], env=env, capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 78
    assert "SHIREN_PG_DSN is required" in p.stdout


@pytest.mark.parametrize("svc", sorted(NEEDS_MASTER_KEY))
def test_bad_master_key_exits_78(svc, bins, svc_env):
    env = dict(svc_env, SHIREN_MASTER_KEY="c2hvcnQ=")
    env.pop("SHIREN_MASTER_KEY_FILE", None)
    p = subprocess.run([getattr(bins, f"shiren_{svc}")], env=env, capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 78
    assert "SHIREN_MASTER_KEY" in p.stdout
    assert "c2hvcnQ" not in p.stdout  # the secret itself is never logged


def test_cli_help_and_unknown_argument(bins):
    p = subprocess.run([bins.shiren_metering, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "SHIREN_KAFKA_BROKERS" in p.stdout
    p = subprocess.run([bins.shiren_metering, "--bogus"], capture_output=True, text=True)
    assert p.returncode == 64 and "--bogus" in p.stderr


@pytest.mark.parametrize("svc", ["intake", "metering"])
def test_unreachable_dependencies_are_retried_not_fatal(svc, bins, svc_env):
    port = free_port()
    env = dict(svc_env, SHIREN_PG_DSN="host=127.0.0.1 port=1 dbname=x user=x",
               SHIREN_KAFKA_BROKERS="127.0.0.1:1", SHIREN_ADMIN_ADDR=f"127.0.0.1:{port}")
    p = subprocess.Popen([getattr(bins, f"shiren_{svc}")], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(3)
        assert p.poll() is None, "the service exited instead of retrying"
        code, body = get(f"http://127.0.0.1:{port}/readyz")
        assert code == 503
        checks = json.loads(body)["checks"]
        assert checks["postgres"] is False and checks["kafka"] is False
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
    assert p.returncode == 0
    logs = json_lines(out)
    assert any(l["msg"].startswith("dependency not ready") or "retrying" in l["msg"]
               for l in logs)


@pytest.mark.parametrize("svc", SERVICES)
def test_ready_on_real_stack_and_drains(svc, bins, migrated_env):
    port = free_port()
    env = dict(migrated_env, SHIREN_ADMIN_ADDR=f"127.0.0.1:{port}")
    p = subprocess.Popen([getattr(bins, f"shiren_{svc}")], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        code = None
        while time.time() < deadline:
            try:
                code, body = get(f"http://127.0.0.1:{port}/readyz")
            except OSError:
                code = None
            if code == 200:
                break
            time.sleep(0.2)
        assert code == 200, body
        assert all(json.loads(body)["checks"].values())
        code, metrics = get(f"http://127.0.0.1:{port}/metrics")
        assert code == 200
        assert "# TYPE shiren_up gauge" in metrics and "\nshiren_up 1" in metrics
        assert get(f"http://127.0.0.1:{port}/nope")[0] == 404
        if svc in TOPICS:
            md = subprocess.run(["kcat", "-b", env["SHIREN_KAFKA_BROKERS"], "-L", "-J"],
                                capture_output=True, text=True, timeout=30).stdout
            names = {t["topic"] for t in json.loads(md)["topics"]}
            assert set(TOPICS[svc]) <= names
    finally:
        t = time.time()
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
    assert p.returncode == 0
    assert time.time() - t < 15
    logs = json_lines(out)
    assert all(set(l) >= {"ts", "level", "svc", "msg"} for l in logs)
    assert logs[-1]["msg"] == "stopped"
    assert not any(migrated_env["SHIREN_PG_DSN"] in json.dumps(l) for l in logs)
