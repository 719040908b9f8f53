"""Helpers for the shiren-liveness tests (test_liveness_*.py): the models and the registry face
images (tests/liveness/images.tsv, SHA-256 checked), image transforms through the
liveness_img helper, a shiren-liveness process on unique ports, LivenessJob encoding and
reading back what the service published (VerifyCompleted, UsageEvent) with kcat."""
import hashlib
import os
import struct
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import ROOT
from intake_harness import Service, _field

TOPIC_JOBS = "shiren.liveness.jobs.v1"
TOPIC_COMPLETED = "shiren.verify.completed.v1"
TOPIC_USAGE = "shiren.usage.v1"
MODEL_FILES = ("face_detection_short_range.shnn", "face_landmark.shnn", "face_geometry.shnn",
               "face_recognition.shnn")
PRODUCT = {"ID_PRO": 1, "ID_MIN": 2, "LR_FR": 3, "PV_FV": 4, "ID_PLUS": 5, "MFVC": 6,
           "LR_FR_MIN": 7, "PV_FC": 8}


def model_dir():
    """The converted models (deploy/models/fetch.sh output), fetched once if missing."""
    d = Path(os.environ.get("SHIREN_MODEL_DIR", ROOT / "build" / "models"))
    if not all((d / f).exists() for f in MODEL_FILES):
        p = subprocess.run([str(ROOT / "deploy" / "models" / "fetch.sh")], capture_output=True,
                           text=True, timeout=900, env=dict(os.environ, SHIREN_MODEL_DIR=str(d)))
        if p.returncode != 0:
            pytest.fail(f"deploy/models/fetch.sh failed:\n{p.stderr[-3000:]}")
    return d


def registry_image(name):
    """Path of a face image listed in tests/liveness/images.tsv, after its SHA-256 check."""
    cache = Path(os.environ.get("SHIREN_CACHE", Path.home() / ".cache" / "shiren")) / "models"
    for line in (ROOT / "tests" / "liveness" / "images.tsv").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        n, src, path, sha = line.split("\t")
        if n != name:
            continue
        p = Path(path) if src.startswith("deb:") else cache / "verified" / path
        if not p.exists():
            if src.startswith("deb:"):
                pytest.fail(f"missing {p}: apt-get install -y {src[4:]}")
            model_dir()  # fetch.sh also verifies the npm sample images
        got = hashlib.sha256(p.read_bytes()).hexdigest()
        assert got == sha, f"{p}: SHA-256 {got}, images.tsv expects {sha}"
        return p
    raise KeyError(name)


def xform(bins, src, **opts):
    """JPEG bytes of `src` transformed by liveness_img (scale, quality, bright, tile, flip)."""
    with tempfile.NamedTemporaryFile(suffix=".jpg", delete=False) as f:
        out = f.name
    args = [bins.liveness_img, str(src), out]
    for k, v in opts.items():
        args += [f"--{k}"] if v is True else [f"--{k}", str(v)]
    try:
        subprocess.run(args, check=True, capture_output=True, timeout=60)
        return Path(out).read_bytes()
    finally:
        os.unlink(out)


def corrupt_jpeg(jpeg):
    """A JPEG whose entropy-coded data is overwritten in its middle third: header and EOI
    intact (intake accepts it), the decoder refuses it."""
    import random
    b = bytearray(jpeg)
    sos = b.find(b"\xff\xda")
    start = sos + (len(b) - sos) // 3
    rnd = random.Random(7)
    for i in range(start, start + (len(b) - sos) // 3):
        b[i] = rnd.choice((0xFF, 0xD9, 0x00, 0x13))
    return bytes(b)


def blas_env():
    """One BLAS thread per worker; Haswell kernels where OpenBLAS does not know the VM's CPU
    (docs/liveness.md, "OpenBLAS on VMs")."""
    env = {"OPENBLAS_NUM_THREADS": "1"}
    if "OPENBLAS_CORETYPE" not in os.environ:
        try:
            if " avx2" in Path("/proc/cpuinfo").read_text():
                env["OPENBLAS_CORETYPE"] = "Haswell"
        except OSError:
            pass
    return env


def liveness_bin(bins):
    """The shiren-liveness binary to test. The engine built at -O0 (BUILD=debug) is about ten
    times slower than at -O2, which no synchronous API call could wait for: with a debug build
    dir the release binary is used (built here if it is missing or stale). SHIREN_LIVENESS_BIN
    overrides."""
    if os.environ.get("SHIREN_LIVENESS_BIN"):
        return os.environ["SHIREN_LIVENESS_BIN"]
    path = bins.shiren_liveness
    if "/debug/" not in path:
        return path
    p = subprocess.run(["make", "-s", "BUILD=release", "build/release/bin/shiren-liveness"],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        pytest.fail(f"make BUILD=release shiren-liveness failed:\n{p.stdout}\n{p.stderr}")
    return str(ROOT / "build" / "release" / "bin" / "shiren-liveness")


class Liveness(Service):
    """One shiren-liveness process with its own admin port and consumer group."""

    name = "liveness"
    ready_timeout = 60

    def __init__(self, bins, env, group=None, **extra):
        self.bins = bins
        settings = blas_env()
        settings.update({
            "SHIREN_LIVENESS_MODEL_DIR": str(model_dir()),
            "SHIREN_LIVENESS_CONSUMER_GROUP": group or "t-liveness-" + uuid.uuid4().hex[:12],
        })
        super().__init__(liveness_bin(bins), env, settings, extra)

    def rss_kb(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


# ---- protobuf (proto/shiren/v1/verify.proto, metering.proto), by hand ----

def envelope(tenant_id, producer="test", message_id=None, produced_at_ms=None):
    return (_field(1, 2, message_id or str(uuid.uuid4())) + _field(2, 2, tenant_id) +
            _field(3, 2, "trace-" + uuid.uuid4().hex[:8]) +
            _field(4, 0, produced_at_ms or int(time.time() * 1000)) + _field(5, 2, producer))


def liveness_job(certify_id, tenant_id, action, product, scene_id, images, *, scene_model="",
                 challenge_json="", deadline_ms=0, synchronous=False, message_id=None):
    """images: [(photo_id, kind, t_ms)]."""
    msg = _field(1, 2, envelope(tenant_id, message_id=message_id))
    msg += _field(2, 2, certify_id) + _field(3, 2, action) + _field(4, 0, PRODUCT[product])
    msg += _field(5, 0, scene_id)
    for pid, kind, t in images:
        ref = _field(1, 0, pid) + _field(2, 2, kind) + (_field(3, 0, t) if t else b"")
        msg += _field(7, 2, ref)
    if challenge_json:
        msg += _field(8, 2, challenge_json)
    if deadline_ms:
        msg += _field(9, 0, deadline_ms)
    if synchronous:
        msg += _field(10, 0, 1)
    if scene_model:
        msg += _field(11, 2, scene_model)
    return msg


def _read_varint(b, i):
    v, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def pb_decode(b):
    """{field number: [values]} (varints as int, 64-bit as raw bytes, others as bytes)."""
    out, i = {}, 0
    while i < len(b):
        key, i = _read_varint(b, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _read_varint(b, i)
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        elif wire == 2:
            n, i = _read_varint(b, i)
            v, i = b[i:i + n], i + n
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(num, []).append(v)
    return out


def _s(d, n):
    return d.get(n, [b""])[0].decode()


def _dbl(d, n):
    v = d.get(n)
    return struct.unpack("<d", v[0])[0] if v else 0.0


def decode_completed(payload):
    d = pb_decode(payload)
    env = pb_decode(d[1][0])
    return {"message_id": _s(env, 1), "tenant": _s(env, 2), "certify_id": _s(d, 2),
            "action": _s(d, 3), "product": d.get(4, [0])[0], "passed": bool(d.get(6, [0])[0]),
            "sub_code": d.get(7, [0])[0], "verify_score": _dbl(d, 8),
            "liveness_score": _dbl(d, 9), "quality_score": _dbl(d, 10),
            "billable": bool(d.get(11, [0])[0]), "result_id": d.get(12, [0])[0],
            "face_photo_id": d.get(14, [0])[0], "code": _s(d, 16), "message": _s(d, 17),
            "synchronous": bool(d.get(18, [0])[0])}


def decode_usage(payload):
    d = pb_decode(payload)
    env = pb_decode(d[1][0])
    return {"message_id": _s(env, 1), "tenant": _s(env, 2), "event_id": _s(d, 2),
            "certify_id": _s(d, 3), "action": _s(d, 4), "product": d.get(5, [0])[0],
            "quantity": d.get(7, [0])[0], "billable": bool(d.get(8, [0])[0]),
            "sub_code": d.get(9, [0])[0], "occurred_at_ms": d.get(10, [0])[0]}


def read_topic(brokers, topic, timeout=60):
    """Every payload on `topic` from the beginning (kcat, payloads length-prefixed)."""
    p = subprocess.run(["kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q",
                        "-f", "%R%s"], capture_output=True, timeout=timeout)
    assert p.returncode == 0, p.stderr.decode()
    b, i, out = p.stdout, 0, []
    while i + 4 <= len(b):
        (n,) = struct.unpack(">i", b[i:i + 4])
        i += 4
        if n < 0:
            continue
        out.append(b[i:i + n])
        i += n
    return out


def completions(brokers, certify_ids):
    """Decoded VerifyCompleted messages for the given CertifyIds (a set)."""
    out = []
    for m in read_topic(brokers, TOPIC_COMPLETED):
        try:
            c = decode_completed(m)
        except (ValueError, IndexError, KeyError):
            continue
        if c["certify_id"] in certify_ids:
            out.append(c)
    return out


def usage_events(brokers, certify_ids):
    out = []
    for m in read_topic(brokers, TOPIC_USAGE):
        try:
            u = decode_usage(m)
        except (ValueError, IndexError, KeyError):
            continue
        if u["certify_id"] in certify_ids:
            out.append(u)
    return out


def establish_reference(env, tenant, intake, cert_name, cert_no, image):
    """A reference on record for (CertName, CertNo), as ContrastFaceVerify looks it up: a
    PV_FV verification of that identity whose result (published here, standing in for the
    capture flow) passed with `image` as its face photo. Returns its CertifyId."""
    import base64

    import psycopg

    from acs_sign import Client
    from intake_harness import TOPIC_COMPLETED, publish, verify_completed, wait_for
    r = Client(intake.addr, *tenant.key).rpc("InitFaceVerify", {
        "SceneId": str(tenant.scenes["PV_FV"]), "OuterOrderNo": uuid.uuid4().hex[:24],
        "ProductCode": "PV_FV", "MetaInfo": '{"zimVer":"3.0.0"}', "UserId": "u1",
        "CertName": cert_name, "CertNo": cert_no,
        "FaceContrastPicture": base64.b64encode(image).decode()})
    assert r.status == 200 and r.json()["Code"] == "200", r.text
    cid = r.json()["ResultObject"]["CertifyId"]
    with psycopg.connect(env["SHIREN_PG_DSN"], autocommit=True) as db:
        photo = db.execute("SELECT ref_photo_id FROM verifications WHERE certify_id = %s",
                           (cid,)).fetchone()[0]
        publish(env["SHIREN_KAFKA_BROKERS"], TOPIC_COMPLETED, cid,
                verify_completed(cid, tenant.id, face_photo_id=photo))
        wait_for(lambda: db.execute("SELECT passed FROM verifications WHERE certify_id = %s",
                                    (cid,)).fetchone()[0], what="the reference's result")
    return cid
