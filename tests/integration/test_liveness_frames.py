"""The H5 capture's frame upload: POST /h5/<token>/frames (multipart/form-data: "frame" parts and
"timestamps") under the CertifyUrl of an InitFaceVerify. The one-time token is claimed, the
frames are stored as photos, a FaceCapture LivenessJob with the scene's challenge runs, and the
result reaches DescribeFaceVerify. Refused uploads (bad token, reused token, too many or too
large frames, not images, timestamps that do not fit, wrong content type) change nothing."""
import base64
import http.client
import json
import uuid

import psycopg
import pytest

from acs_sign import Client
from intake_harness import Intake, Tenant, id_card_number, make_png, snapshot, wait_for
from liveness_harness import Liveness, registry_image, xform


@pytest.fixture
def h5(bins, migrated_env):
    tenant = Tenant(bins, migrated_env, scenes=(("PV_FV", "LIVENESS"), ("LR_FR", "MOVE_ACTION")))
    intake = Intake(bins, migrated_env, SHIREN_INTAKE_FRAMES_MAX=12,
                    SHIREN_INTAKE_FRAME_MAX_BYTES=150000, SHIREN_INTAKE_FRAMES_MAX_PIXELS=3_000_000)
    live = Liveness(bins, migrated_env, SHIREN_LIVENESS_WORKERS=1)
    yield migrated_env, tenant, intake, live
    assert live.stop() == 0
    assert intake.stop() == 0


def init(tenant, intake, product="PV_FV", photo=None, cert=None):
    p = {"SceneId": str(tenant.scenes[product]), "OuterOrderNo": uuid.uuid4().hex[:24],
         "ProductCode": product, "MetaInfo": '{"zimVer":"3.0.0"}', "UserId": "u1",
         "CertifyUrlType": "H5"}
    if cert:
        p["CertName"], p["CertNo"] = cert
    if photo:
        p["FaceContrastPicture"] = base64.b64encode(photo).decode()
    r = Client(intake.addr, *tenant.key).rpc("InitFaceVerify", p)
    assert r.json()["Code"] == "200", r.text
    o = r.json()["ResultObject"]
    return o["CertifyId"], o["CertifyUrl"].rsplit("/", 1)[1]


def multipart(frames, times, boundary="----shirenFrames7d1"):
    out = b""
    for i, f in enumerate(frames):
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"frame\"; "
                f"filename=\"f{i}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + f + b"\r\n"
    if times is not None:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"timestamps\"\r\n\r\n"
                f"{times}\r\n").encode()
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def upload(intake, token, body, ctype, path=None):
    c = http.client.HTTPConnection(intake.addr, timeout=10)
    c.request("POST", path or f"/h5/{token}/frames", body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data)


def frames_of(bins, n):
    src = registry_image("hopper")
    return [xform(bins, src, scale=0.8 + 0.01 * i, quality=70) for i in range(n)]


def test_upload_runs_the_challenge(bins, h5):
    env, tenant, intake, live = h5
    cid, token = init(tenant, intake, photo=registry_image("hopper").read_bytes())
    frames = frames_of(bins, 10)
    times = ",".join(str(66 * i) for i in range(10))
    status, j = upload(intake, token, *multipart(frames, times))
    assert status == 200 and j["Code"] == "200" and j["CertifyId"] == cid, j
    with psycopg.connect(env["SHIREN_PG_DSN"]) as db:
        n = db.execute("SELECT count(*) FROM photos p JOIN verifications v ON v.id = "
                       "p.verification_id WHERE v.certify_id = %s AND p.kind = 'frame'",
                       (cid,)).fetchone()[0]
        assert n == 10
        assert db.execute("SELECT used_at IS NOT NULL FROM h5_sessions WHERE certify_id = %s",
                          (cid,)).fetchone()[0]
    # a still photo does not blink: the challenge fails (205), the verification completes
    def described():
        r = Client(intake.addr, *tenant.key).rpc("DescribeFaceVerify", {
            "SceneId": str(tenant.scenes["PV_FV"]), "CertifyId": cid}).json()
        return r if r["Code"] == "200" else None
    d = wait_for(described, timeout=60, what="the capture's result")
    assert d["ResultObject"]["Passed"] == "F" and d["ResultObject"]["SubCode"] == "205", d
    with psycopg.connect(env["SHIREN_PG_DSN"]) as db:
        action, code, detail = db.execute(
            "SELECT action, code, detail FROM liveness_results WHERE certify_id = %s",
            (cid,)).fetchone()
    assert action == "FaceCapture" and code == "200"
    assert detail["liveness"]["frames"] == 10 and detail["liveness"]["method"] == "action"
    assert "action_missing" in detail["liveness"]["reasons"], detail
    # one-time
    status, j = upload(intake, token, *multipart(frames[:2], "0,66"))
    assert status == 409 and j["Code"] == "TokenUsed", j


def test_refused_uploads_change_nothing(bins, h5):
    env, tenant, intake, live = h5
    cid, token = init(tenant, intake, product="LR_FR")
    good = frames_of(bins, 3)
    big = xform(bins, registry_image("astronaut"), scale=2.5, quality=98)
    assert len(big) > 150000
    many = [xform(bins, registry_image("astronaut"), quality=60 + i) for i in range(12)]
    cases = [
        ("x" * 43, multipart(good, "0,1,2"), 404, "InvalidToken"),
        (token, multipart(good, "0,1"), 400, "InvalidFrames"),
        (token, multipart(good, "0,2,1"), 400, "InvalidFrames"),
        (token, multipart(good, None), 400, "InvalidFrames"),
        (token, multipart(good * 5, ",".join(str(i) for i in range(15))), 400, "InvalidFrames"),
        (token, multipart([b"GIF89a" + bytes(100)], "0"), 400, "InvalidFrames"),
        (token, multipart([make_png(16, 16)], "0"), 400, "InvalidFrames"),
        (token, multipart([big], "0"), 400, "InvalidFrames"),
        (token, multipart(many, ",".join(str(i) for i in range(12))), 400, "InvalidFrames"),
        (token, multipart([], None), 400, "InvalidFrames"),
        (token, (b"frames=1", "application/x-www-form-urlencoded"), 415, "UnsupportedMediaType"),
        (token, (b"--b\r\nno headers\r\n--b--", "multipart/form-data; boundary=b"), 400,
         "InvalidFrames"),
    ]
    before = snapshot(env["SHIREN_PG_DSN"])
    for tok, (body, ctype), status, code in cases:
        s, j = upload(intake, tok, body, ctype)
        assert (s, j["Code"]) == (status, code), (code, j)
    s, j = upload(intake, token, b"", "text/plain", path=f"/h5/{token}/other")
    assert s == 404
    assert snapshot(env["SHIREN_PG_DSN"]) == before
    # the token still works after all that
    s, j = upload(intake, token, *multipart(good, "0,40,80"))
    assert s == 200, j


def test_repeated_failures_escalate_the_challenge(bins, h5):
    """An H5 capture of a person (CertType + CertNo) who failed SHIREN_INTAKE_RISK_FAILURES (2)
    verifications of this tenant within the window gets the escalated challenge: the session
    records the decision once, and the LivenessJob's challenge carries it to shiren-liveness.
    Another person's capture does not."""
    env, tenant, intake, live = h5
    cert_no = id_card_number(seq="731")
    failed = []
    for _ in range(2):
        cid, _ = init(tenant, intake, photo=registry_image("hopper").read_bytes(),
                      cert=("张三", cert_no))
        failed.append(cid)
    with psycopg.connect(env["SHIREN_PG_DSN"]) as db:
        # two earlier failures of that person (as intake's consumer records a failed result)
        db.execute("UPDATE verifications SET status = 'completed', passed = false, "
                   "sub_code = 205, completed_at = now() WHERE certify_id = ANY(%s)", (failed,))
    frames = frames_of(bins, 4)
    times = ",".join(str(66 * i) for i in range(4))
    decided = {}
    for who, cno in (("again", cert_no), ("other", id_card_number(seq="732"))):
        cid, token = init(tenant, intake, photo=registry_image("hopper").read_bytes(),
                          cert=("李四", cno))
        status, j = upload(intake, token, *multipart(frames, times))
        assert status == 200 and j["Code"] == "200", j
        with psycopg.connect(env["SHIREN_PG_DSN"], autocommit=True) as db:
            risk = db.execute("SELECT risk FROM h5_sessions WHERE certify_id = %s",
                              (cid,)).fetchone()[0]
            payload = wait_for(lambda: db.execute(
                "SELECT payload FROM liveness_jobs WHERE certify_id = %s", (cid,)).fetchone(),
                what="the job in shiren-liveness")
        decided[who] = risk
        assert (b'"risk":true' if risk else b'"risk":false') in bytes(payload[0])
        # shiren-liveness ran that plan: the scene's LIVENESS model is one blink; escalated,
        # an extra action and the colour flash (liveness_plan_for)
        with psycopg.connect(env["SHIREN_PG_DSN"], autocommit=True) as db:
            detail = wait_for(lambda: db.execute(
                "SELECT detail FROM liveness_results WHERE certify_id = %s",
                (cid,)).fetchone(), timeout=60, what="the capture's result")[0]
        lv = detail["liveness"]
        assert (lv["risk"], lv["actions"], lv["photinus"]) == (
            (True, 2, True) if risk else (False, 1, False)), detail
    assert decided == {"again": True, "other": False}, decided
