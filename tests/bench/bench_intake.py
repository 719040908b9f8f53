#!/usr/bin/env python3
"""Benchmark: shiren-intake under signed load on loopback, against a static HTTP peer.

In one run, on a fresh database (created from var/stack.env's DSN, dropped at the end):
  1. the static peer (build/<mode>/bench/bench_static_server, evhttp answering a fixed JSON body
     the size of a DescribeFaceVerify reply): closed-loop peak;
  2. intake InitFaceVerify (ID_PRO, CertifyUrlType H5: nonce, verification, sealed personal
     data, H5 session, two outbox messages, one transaction): closed-loop peak;
  3. intake DescribeFaceVerify of a verification whose result arrived (a VerifyCompleted
     published on shiren.verify.completed.v1 and applied by intake's own consumer, as liveness
     would): closed-loop peak;
  4. each intake action again in open loop at half its peak, for p99 (latency counted from
     the scheduled send time, so queueing is not hidden);
  5. optionally (--pgbench) pgbench's rate for a one-row INSERT per transaction on the same
     database and box: what PostgreSQL alone commits per second.
Every request is signed ahead of time (RPC HMAC-SHA1, own nonce, own OuterOrderNo) by
bench_intake_load; only HTTP 200 with Code "200" counts. intake runs with
SHIREN_INTAKE_THROTTLE_QPS=0 and SHIREN_LOG_LEVEL=warn. CPU seconds per process group are
sampled from /proc around each phase.

Usage: tests/bench/bench_intake.py [--seconds 10] [--conns 32] [--open-conns 64]
           [--build build/release] [--pgbench] [--log-level warn] [--env K=V ...]
`--conns 16,32,64` tries each count and keeps the best (the peak).
"""
import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from acs_sign import Client  # noqa: E402
from conftest import _read_stack_env  # noqa: E402
from intake_harness import TOPIC_COMPLETED, free_port, publish, verify_completed  # noqa: E402

LINE_RE = re.compile(
    r"(?P<ok>\d+) ok, (?P<non200>\d+) non-200, (?P<biz>\d+) business errors, "
    r"(?P<transport>\d+) transport errors in (?P<secs>[\d.]+) s = (?P<rps>\d+) req/s; latency "
    r"p50 (?P<p50>[\d.]+) ms p90 (?P<p90>[\d.]+) ms p99 (?P<p99>[\d.]+) ms max (?P<max>[\d.]+) ms")
HZ = os.sysconf("SC_CLK_TCK")


def stack_env():
    env = dict(os.environ)
    env.update(_read_stack_env())
    return env


def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(cmd, env, **kw):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout


def wait_http(url, timeout=30, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


# ---- CPU accounting ----

def cpu_by_group():
    """CPU seconds (user+system) of every live process, grouped by command name."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        f = st[st.rindex(")") + 2:].split()
        group = ("postgres" if comm.startswith("postgres") else
                 "kafka" if comm == "java" else comm)
        out[group] = out.get(group, 0.0) + (int(f[11]) + int(f[12])) / HZ
    return out


def cpu_diff(a, b, wall, client_cpu):
    keys = ("shiren-intake", "postgres", "kafka", "bench_static_se")
    d = {k: b.get(k, 0.0) - a.get(k, 0.0) for k in keys}
    d["load generator"] = client_cpu
    # The generator is accounted from its rusage (it has exited by the second snapshot).
    total_a = sum(v for k, v in a.items() if k != "bench_intake_lo")
    total_b = sum(v for k, v in b.items() if k != "bench_intake_lo")
    d["other"] = (total_b - total_a) - sum(d[k] for k in keys)
    return {k: v / wall for k, v in d.items() if v / wall >= 0.02}


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ---- one load phase ----

def load(bins, addr, action, conns, seconds, rate=0, key=None, scene=0, certify_id=""):
    cmd = [str(bins / "bench/bench_intake_load"), "--addr", addr, "--action", action,
           "--conns", str(conns), "--seconds", str(seconds)]
    if rate:
        cmd += ["--rate", str(int(rate))]
    if key:
        cmd += ["--key-id", key[0], "--secret", key[1], "--scene", str(scene)]
    if certify_id:
        cmd += ["--certify-id", certify_id]
    c0 = children_cpu()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The generator signs its requests first; the clock starts when it says so.
    prep = p.stderr.readline()
    a, t0 = cpu_by_group(), time.time()
    try:  # its signing time is not part of the phase
        f = Path(f"/proc/{p.pid}/stat").read_text()
        f = f[f.rindex(")") + 2:].split()
        c0 += (int(f[11]) + int(f[12])) / HZ
    except OSError:
        pass
    out, err = p.communicate(timeout=seconds + 600)
    wall = time.time() - t0
    b = cpu_by_group()
    m = LINE_RE.search(out)
    if not m:
        sys.exit(f"unexpected output from {' '.join(cmd)}:\n{prep}{out}{err}")
    r = {k: float(v) for k, v in m.groupdict().items()}
    r.update(action=action, conns=conns, rate=rate, line=out.strip(),
             errors=int(r["non200"] + r["biz"] + r["transport"]),
             stderr=err.strip()[:600],
             cpu=cpu_diff(a, b, wall, children_cpu() - c0))
    return r


def show(label, r):
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["cpu"].items(), key=lambda x: -x[1]))
    per = ", ".join(f"{k} {r['cpu'][k] / r['rps'] * 1e6:.0f}" for k in
                    ("shiren-intake", "postgres", "kafka", "bench_static_se", "load generator")
                    if r["rps"] and k in r["cpu"])
    print(f"{label}: {r['rps']:,.0f} req/s, p50 {r['p50']:.2f} ms, p90 {r['p90']:.2f} ms, "
          f"p99 {r['p99']:.2f} ms, max {r['max']:.1f} ms, {r['errors']} errors "
          f"({r['conns']} conns{', rate %d/s' % r['rate'] if r['rate'] else ''}); "
          f"cores busy: {cpu}; CPU us per request: {per}; load {loadavg()}", flush=True)
    if r["errors"]:
        print(f"  errors: {r['stderr']}", flush=True)


def peak(fn, conns_list):
    best = None
    for n in conns_list:
        r = fn(n)
        if best is None or r["rps"] > best["rps"]:
            best = r
    return best


# ---- setup ----

def completed_verification(env, intake_addr, key, scene, tenant_id):
    c = Client(intake_addr, *key)
    r = c.rpc("InitFaceVerify", {"SceneId": str(scene), "OuterOrderNo": "bench-describe",
                                 "ProductCode": "ID_PRO", "Model": "LIVENESS",
                                 "CertType": "IDENTITY_CARD", "CertName": "Bench User",
                                 "CertNo": "110101199003071233",
                                 "MetaInfo": '{"deviceType":"h5"}'})
    body = r.json()
    if r.status != 200 or body.get("Code") != "200":
        sys.exit(f"InitFaceVerify for the Describe target failed: {r.status} {body}")
    cid = body["ResultObject"]["CertifyId"]
    # as liveness would send it: Passed T, SubCode 200, scores, no photo (so the reply
    # matches the peer's body size)
    publish(env["SHIREN_KAFKA_BROKERS"], TOPIC_COMPLETED, cid,
            verify_completed(cid, tenant_id, device_token="bench-device-token"))
    deadline = time.time() + 60
    with psycopg.connect(env["SHIREN_PG_DSN"], autocommit=True) as db:
        while time.time() < deadline:
            st = db.execute("SELECT status FROM verifications WHERE certify_id = %s",
                            (cid,)).fetchone()[0]
            if st == "completed":
                break
            time.sleep(0.1)
        else:
            sys.exit("the VerifyCompleted was not applied within 60 s")
    r = c.rpc("DescribeFaceVerify", {"SceneId": str(scene), "CertifyId": cid}).json()
    if r.get("Code") != "200":
        sys.exit(f"DescribeFaceVerify of the target: {r}")
    return cid


def drop_database(admin_dsn, db):
    """Our processes have stopped; an autovacuum worker may still be in the database (DROP
    cancels those itself, but WITH (FORCE) would need the right to signal them)."""
    for attempt in range(20):
        try:
            with psycopg.connect(admin_dsn, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{db}"' +
                          (" WITH (FORCE)" if attempt % 2 else ""))
            return
        except psycopg.Error as e:
            err = e
            time.sleep(0.5)
    print(f"could not drop database {db}: {err}")


def pgbench(env, seconds, clients):
    """pgbench, one INSERT of a nonce-sized row per transaction (autocommit), N clients."""
    dsn = env["SHIREN_PG_DSN"]
    parts = dict(kv.split("=", 1) for kv in dsn.split())
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS bench_ins (k text, n text, t timestamptz, "
                  "PRIMARY KEY (k, n))")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("INSERT INTO bench_ins VALUES ('LTAIbench', md5(random()::text), now());\n")
    try:
        out = run(["pgbench", "-n", "-h", parts.get("host", "127.0.0.1"), "-p",
                   parts.get("port", "5432"), "-U", parts.get("user", "shiren"), "-c",
                   str(clients), "-j", "2", "-T", str(seconds), "-M", "prepared", "-f", f.name,
                   parts["dbname"]], env)
    finally:
        os.unlink(f.name)
    m = re.search(r"tps = ([\d.]+)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    return float(m.group(1)), float(lat.group(1)) if lat else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conns", default="32", help="closed-loop connections, e.g. 16,32,64")
    ap.add_argument("--open-conns", type=int, default=64)
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--log-level", default="warn")
    ap.add_argument("--pgbench", action="store_true")
    ap.add_argument("--only", default="", help="comma list: peer,init,describe (default all)")
    ap.add_argument("--env", action="append", default=[], help="extra intake env K=V")
    ap.add_argument("--hold", action="store_true",
                    help="set up, print the targets as JSON, wait for SIGINT/SIGTERM (profiling)")
    a = ap.parse_args()
    conns_list = [int(x) for x in a.conns.split(",")]
    only = set(a.only.split(",")) if a.only else {"peer", "init", "describe"}
    bins = ROOT / a.build
    env = stack_env()
    admin_dsn = env["SHIREN_PG_DSN"]
    db = "bench_intake_" + uuid.uuid4().hex[:8]
    with psycopg.connect(admin_dsn, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    env["SHIREN_PG_DSN"] = admin_dsn.replace("dbname=shiren", f"dbname={db}")
    env["SHIREN_SQL_DIR"] = str(ROOT / "deploy/sql")
    env = {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}
    procs, logs = [], []
    results = {}
    print(f"bench_intake: {time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} cores, "
          f"load {loadavg()}, {a.seconds} s per phase, database {db}", flush=True)
    try:
        run([str(bins / "bin/shirenctl"), "migrate"], env)
        tname = "bench" + uuid.uuid4().hex[:8]
        tenant_id = json.loads(run([str(bins / "bin/shirenctl"), "tenant", "create", tname,
                                    "--json"], env))["id"]
        k = json.loads(run([str(bins / "bin/shirenctl"), "key", "create", "--tenant", tname,
                            "--json"], env))
        key = (k["access_key_id"], k["access_key_secret"])
        scene = json.loads(run([str(bins / "bin/shirenctl"), "scene", "create", "--tenant",
                                tname, "--name", "bench", "--product", "ID_PRO", "--model",
                                "LIVENESS", "--json"], env))["scene_id"]

        port, admin = free_port(), free_port()
        ienv = dict(env)
        ienv.update({"SHIREN_INTAKE_ADDR": f"127.0.0.1:{port}",
                     "SHIREN_ADMIN_ADDR": f"127.0.0.1:{admin}",
                     "SHIREN_INTAKE_CONSUMER_GROUP": "bench-intake-" + uuid.uuid4().hex[:8],
                     "SHIREN_INTAKE_THROTTLE_QPS": "0", "SHIREN_LOG_LEVEL": a.log_level})
        for kv in a.env:
            kk, _, vv = kv.partition("=")
            ienv[kk] = vv
        ilog = tempfile.NamedTemporaryFile(prefix="bench-intake-", suffix=".log", delete=False)
        logs.append(ilog.name)
        intake = subprocess.Popen([str(bins / "bin/shiren-intake")], env=ienv, stdout=ilog,
                                  stderr=subprocess.STDOUT)
        procs.append(intake)
        wait_http(f"http://127.0.0.1:{admin}/readyz", proc=intake)
        iaddr = f"127.0.0.1:{port}"
        cid = completed_verification(env, iaddr, key, scene, tenant_id)

        peer_addr = f"127.0.0.1:{free_port()}"
        peer = subprocess.Popen([str(bins / "bench/bench_static_server"), peer_addr])
        procs.append(peer)
        time.sleep(0.3)

        if a.hold:
            print(json.dumps({"intake": iaddr, "intake_pid": intake.pid, "peer": peer_addr,
                              "admin": f"127.0.0.1:{admin}", "key_id": key[0],
                              "secret": key[1], "scene": scene, "certify_id": cid,
                              "dsn": env["SHIREN_PG_DSN"], "log": ilog.name}), flush=True)
            signal.signal(signal.SIGTERM, lambda *x: (_ for _ in ()).throw(KeyboardInterrupt))
            try:
                while intake.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
            return
        S = a.seconds
        if "peer" in only:
            results["peer"] = peak(lambda n: load(bins, peer_addr, "static", n, S), conns_list)
            show("peer (static evhttp), closed loop", results["peer"])
        if "init" in only:
            results["init"] = peak(lambda n: load(bins, iaddr, "InitFaceVerify", n, S, key=key,
                                                  scene=scene), conns_list)
            show("intake InitFaceVerify, closed loop", results["init"])
        if "describe" in only:
            results["describe"] = peak(
                lambda n: load(bins, iaddr, "DescribeFaceVerify", n, S, key=key, scene=scene,
                               certify_id=cid), conns_list)
            show("intake DescribeFaceVerify, closed loop", results["describe"])
        if "init" in only:
            rate = max(1, results["init"]["rps"] / 2)
            results["init_half"] = load(bins, iaddr, "InitFaceVerify", a.open_conns, S,
                                        rate=rate, key=key, scene=scene)
            show("intake InitFaceVerify, open loop at half peak", results["init_half"])
        if "describe" in only:
            rate = max(1, results["describe"]["rps"] / 2)
            results["describe_half"] = load(bins, iaddr, "DescribeFaceVerify", a.open_conns, S,
                                            rate=rate, key=key, scene=scene, certify_id=cid)
            show("intake DescribeFaceVerify, open loop at half peak", results["describe_half"])
        if a.pgbench:
            for clients in (8, 32):
                tps, lat = pgbench(env, S, clients)
                results[f"pgbench_{clients}"] = tps
                print(f"pgbench one-row INSERT per transaction, {clients} clients: "
                      f"{tps:,.0f} tps (latency avg {lat:.2f} ms); load {loadavg()}",
                      flush=True)

        print("\nsummary", flush=True)
        peer_rps = results.get("peer", {}).get("rps")
        for name, target in (("init", 5000), ("describe", 15000)):
            if name not in results:
                continue
            r, h = results[name], results[name + "_half"]
            ratio = f", {r['rps'] / peer_rps:.3f} of the peer" if peer_rps else ""
            verdict = "meets" if r["rps"] >= target and h["p99"] < 20 else "misses"
            print(f"  {r['action']}: peak {r['rps']:,.0f} req/s{ratio}; at {h['rate']:,.0f} req/s "
                  f"p50 {h['p50']:.2f} ms, p99 {h['p99']:.2f} ms -> {verdict} the target "
                  f"(>= {target:,} req/s, p99 < 20 ms)", flush=True)
        if peer_rps:
            print(f"  peer: {peer_rps:,.0f} req/s", flush=True)
        rc = intake.poll()
        if rc is not None:
            print(f"intake exited early ({rc})")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        if procs and procs[0].returncode not in (0, None):
            print(f"intake exit status {procs[0].returncode}; log tail:")
            print(Path(logs[0]).read_text(errors="replace")[-3000:])
        for lg in logs:
            os.unlink(lg)
        drop_database(admin_dsn, db)


if __name__ == "__main__":
    main()
