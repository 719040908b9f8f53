#!/usr/bin/env python3
"""Benchmark: 1:1 face comparison end to end through the API (CompareFaceVerify), and the memory
of shiren-liveness's workers.

One run, on a fresh database (created from var/stack.env's DSN, dropped at the end), with the
release binaries: shiren-intake and shiren-liveness on loopback, the local Kafka and PostgreSQL.
Each request carries two real photos inline (Base64 in the form body, RPC HMAC-SHA1 signed
ahead of the timed run with its own nonce and OuterOrderNo): the registry images of
tests/liveness/images.tsv (astronaut, grace_hopper) and transforms of them (scale, JPEG
quality, brightness), rotating, half same person and half different people. The path measured:
signature check, Base64 and header checks, one PostgreSQL transaction (verification, two
sealed photos, the LivenessJob in the outbox), outbox relay -> Kafka -> liveness inbox ->
job row -> worker (photos read and opened, two decodes, two analyses side by side, the
comparison) -> result transaction (VerifyCompleted and UsageEvent in the outbox) -> relay ->
Kafka -> intake's consumer -> NOTIFY -> the parked request answered.

Open loop at --rate requests/s for --seconds (latency from the scheduled send time, so
queueing is not hidden), after --warmup sequential requests. Prints client-side percentiles,
intake's own arrival-to-answer figures (its request log), the liveness job split (queue,
compute) from shiren-liveness's log, and the liveness process's peak RSS (VmHWM) with its
worker count; `--workers 1` and `--workers 2` give the per-worker memory.

With --captures K it then uploads K H5 captures at once (40 frames of ~650x650 each: 17 Mpx, within
the default 24 Mpx a capture may hold) and reports the peak RSS again: a capture holds all its decoded frames,
the largest job a worker runs.

Usage: tests/bench/bench_compare.py [--rate 4] [--seconds 30] [--warmup 10] [--workers 0]
           [--captures 0] [--build build/release]
"""
import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import conftest  # noqa: E402
from acs_sign import build, rpc_request, send_raw  # noqa: E402
from intake_harness import Intake, MigratedDb, Tenant  # noqa: E402
from liveness_harness import Liveness, registry_image, xform  # noqa: E402


class Bins:
    def __init__(self, build_dir):
        self.d = ROOT / build_dir

    def __getattr__(self, name):
        for sub in ("bin", "itest", "bench"):
            for n in (name.replace("_", "-"), name):
                p = self.d / sub / n
                if p.exists():
                    return str(p)
        raise AttributeError(name)


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def fmt(v):
    return (f"p50 {pct(v, .5):.1f} / p90 {pct(v, .9):.1f} / p99 {pct(v, .99):.1f} / "
            f"max {max(v):.1f} ms (n={len(v)})")


def images(bins):
    astro, hopper = registry_image("astronaut"), registry_image("hopper")
    a = [xform(bins, astro, scale=s, quality=q, bright=b)
         for s, q, b in ((1.0, 85, 1.0), (0.9, 40, 1.0), (1.2, 80, 0.85), (1.5, 75, 1.1))]
    h = [hopper.read_bytes(), xform(bins, hopper, scale=0.8, quality=60),
         xform(bins, hopper, scale=1.2, quality=85, bright=0.9)]
    pairs = []
    for i in range(len(a)):
        pairs.append((a[i], a[(i + 1) % len(a)]))  # same person
        pairs.append((a[i], h[i % len(h)]))  # different people
    for i in range(len(h)):
        pairs.append((h[i], h[(i + 1) % len(h)]))
    return pairs


def sign_all(addr, key, scene, pairs, n):
    reqs = []
    for i in range(n):
        src, tgt = pairs[i % len(pairs)]
        body = {"SceneId": str(scene), "OuterOrderNo": uuid.uuid4().hex[:24],
                "ProductCode": "PV_FC",
                "SourceFaceContrastPicture": base64.b64encode(src).decode(),
                "TargetFaceContrastPicture": base64.b64encode(tgt).decode()}
        target, headers, payload = rpc_request("POST", "CompareFaceVerify", body, *key)
        reqs.append(build("POST", target, headers, payload, host=addr))
    return reqs


def captures(bins, env, tenant, intake, live, k):
    """k H5 captures of 40 ~650x650 frames uploaded at once; the peak RSS afterwards."""
    import http.client

    import psycopg
    from acs_sign import Client
    frames = [xform(bins, registry_image("astronaut"), scale=1.25 + 0.01 * i, quality=60)
              for i in range(40)]
    times = ",".join(str(50 * i) for i in range(40))
    bnd = "----benchFrames"
    body = b""
    for f in frames:
        body += (f"--{bnd}\r\nContent-Disposition: form-data; name=\"frame\"; "
                 f"filename=\"f.jpg\"\r\n\r\n").encode() + f + b"\r\n"
    body += (f"--{bnd}\r\nContent-Disposition: form-data; name=\"timestamps\"\r\n\r\n"
             f"{times}\r\n--{bnd}--\r\n").encode()
    c = Client(intake.addr, *tenant.key)
    ids = []
    for _ in range(k):
        r = c.rpc("InitFaceVerify", {
            "SceneId": str(tenant.scenes["LR_FR"]), "OuterOrderNo": uuid.uuid4().hex[:24],
            "ProductCode": "LR_FR", "MetaInfo": "{}", "UserId": "u", "CertifyUrlType": "H5"})
        o = r.json()["ResultObject"]
        ids.append((o["CertifyId"], o["CertifyUrl"].rsplit("/", 1)[1]))

    def up(token):
        h = http.client.HTTPConnection(intake.addr, timeout=30)
        h.request("POST", f"/h5/{token}/frames", body=body,
                  headers={"Content-Type": f"multipart/form-data; boundary={bnd}"})
        st = h.getresponse().status
        h.close()
        return st
    with ThreadPoolExecutor(max_workers=k) as pool:
        st = list(pool.map(up, [t for _, t in ids]))
    assert st == [200] * k, st
    with psycopg.connect(env["SHIREN_PG_DSN"]) as db:
        while db.execute("SELECT count(*) FROM liveness_results WHERE certify_id = ANY(%s)",
                         ([i for i, _ in ids],)).fetchone()[0] < k:
            db.rollback()
            time.sleep(0.2)
    jobs = [l for l in live.log_lines() if l.get("msg") == "job done" and
            l.get("action") == "FaceCapture"]
    status = Path(f"/proc/{live.proc.pid}/status").read_text()
    hwm = [l for l in status.splitlines() if l.startswith(("VmHWM", "VmRSS"))]
    print(f"{k} capture(s) of 40 frames ~650x650 ({len(body) // 1024} KiB each), compute "
          f"{[j['compute_ms'] for j in jobs]} ms: " + ", ".join(hwm))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=4.0)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--captures", type=int, default=0)
    ap.add_argument("--build", default="build/release")
    a = ap.parse_args()
    mode = a.build.rstrip("/").rsplit("/", 1)[1]
    subprocess.run(["make", "-s", f"BUILD={mode}", "-j2", f"{a.build}/bin/shiren-intake",
                    f"{a.build}/bin/shiren-liveness", f"{a.build}/bin/shirenctl",
                    f"{a.build}/itest/liveness_img"], cwd=ROOT, check=True)
    os.environ["SHIREN_LIVENESS_BIN"] = str(ROOT / a.build / "bin" / "shiren-liveness")
    bins = Bins(a.build)
    stack_env = conftest._read_stack_env()
    n = a.warmup + int(a.rate * a.seconds)
    with MigratedDb(stack_env, bins) as env:
        tenant = Tenant(bins, env, scenes=(("PV_FC", "FRONT_CAMERA_LIVENESS"),
                                           ("LR_FR", "MOVE_ACTION")))
        intake = Intake(bins, env, SHIREN_INTAKE_THROTTLE_QPS=0,
                        SHIREN_INTAKE_MAX_BODY_BYTES=16 << 20)
        live = Liveness(bins, env, SHIREN_LIVENESS_WORKERS=a.workers)
        try:
            pairs = images(bins)
            t0 = time.time()
            reqs = sign_all(intake.addr, tenant.key, tenant.scenes["PV_FC"], pairs, n)
            print(f"signed {n} requests in {time.time() - t0:.1f} s; body sizes "
                  f"{min(len(r) for r in reqs) // 1024}-{max(len(r) for r in reqs) // 1024} KiB")
            ids, lat, errors = [], [], []
            lock = threading.Lock()

            def one(raw, sched):
                r = send_raw(intake.addr, raw, timeout=10)
                took = (time.perf_counter() - sched) * 1000
                j = json.loads(r.body)
                with lock:
                    if r.status != 200 or j.get("Code") != "200":
                        errors.append(j)
                    ids.append(j.get("RequestId"))
                    return took

            for raw in reqs[:a.warmup]:
                one(raw, time.perf_counter())
            ids.clear()
            load0 = os.getloadavg()[0]
            start = time.perf_counter() + 0.2
            with ThreadPoolExecutor(max_workers=64) as pool:
                futs = []
                for i, raw in enumerate(reqs[a.warmup:]):
                    sched = start + i / a.rate
                    delay = sched - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    futs.append(pool.submit(one, raw, sched))
                lat = [f.result() for f in futs]
            load1 = os.getloadavg()[0]
            time.sleep(0.5)
            server = {l["req_id"]: l["latency_ms"] for l in intake.log_lines()
                      if l.get("msg") == "request"}
            srv = [server[i] for i in ids if i in server]
            jobs = [l for l in live.log_lines() if l.get("msg") == "job done"][a.warmup:]
            status = Path(f"/proc/{live.proc.pid}/status").read_text()
            hwm = [l for l in status.splitlines() if l.startswith(("VmHWM", "VmRSS"))]
            workers = [l for l in live.log_lines() if l.get("msg") == "liveness engine loaded"]
            print(f"CompareFaceVerify open loop {a.rate}/s for {a.seconds:.0f} s, "
                  f"errors {len(errors)}, load average {load0:.2f} -> {load1:.2f}")
            print("  client, scheduled send to answer:", fmt(lat))
            print("  intake, arrival to answer:      ", fmt(srv))
            print("  liveness queue (request to claim):", fmt([j["queue_ms"] for j in jobs]))
            print("  liveness compute (2 images):     ", fmt([j["compute_ms"] for j in jobs]))
            print("  liveness claim to commit:        ", fmt([j["ms"] for j in jobs]))
            print(f"  shiren-liveness workers {workers[0]['workers'] if workers else '?'}, "
                  f"blas {workers[0].get('blas_core') if workers else '?'}: " + ", ".join(hwm))
            if errors:
                print("  first error:", errors[0])
            mean = statistics.mean(lat)
            print(f"  mean {mean:.1f} ms")
            if a.captures:
                captures(bins, env, tenant, intake, live, a.captures)
        finally:
            live.stop()
            intake.stop()


if __name__ == "__main__":
    main()
