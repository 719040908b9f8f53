"""InitFaceVerify and the result path end to end on the local stack: what is stored (sealed
personal data, the reference photo, the H5 session), the messages emitted through the outbox,
reference photos by URL (limits, errors, proxy, non-public addresses) and by earlier CertifyId,
results arriving on shiren.verify.completed.v1, DescribeFaceVerify's photo window,
DeleteFaceVerifyResult's wipe, the per-day statistics, and the request deadline."""
import base64
import hashlib
import http.server
import subprocess
import threading
import time

import psycopg
import pytest

from acs_sign import Client
from intake_harness import (seq_used, TOPIC_COMPLETED, Intake, MigratedDb, Tenant, id_card_number,
                            make_png, publish, verify_completed, wait_for)

PNG = make_png(120, 160, seed=7)


class Images(http.server.BaseHTTPRequestHandler):
    """Serves test images; as a proxy it answers absolute-form requests the same way."""
    seen = []

    def log_message(self, *a):
        pass

    def do_GET(self):
        Images.seen.append(self.path)
        path = self.path.split("://", 1)[-1]
        path = "/" + path.split("/", 1)[1] if "://" in self.path else path
        if path == "/ok.png" or path == "/face.png":
            self._send(PNG, "image/png")
        elif path == "/big.png":
            self._send(b"\x89PNG" + b"\0" * (2 << 20), "image/png")
        elif path == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            block = b"\0" * 65536
            try:
                for _ in range(40):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
        elif path == "/slow.png":
            time.sleep(3)
            self._send(PNG, "image/png")
        elif path == "/text":
            self._send(b"hello, not an image", "text/plain")
        else:
            self.send_error(404)

    def _send(self, data, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            pass


@pytest.fixture(scope="module")
def images():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Images)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture(scope="module")
def world(stack_env, bins, images):
    with MigratedDb(stack_env, bins) as env:
        tenant = Tenant(bins, env, scenes=(("ID_PRO", "LIVENESS"), ("PV_FV", "MOVE_ACTION"),
                                           ("LR_FR", "LIVENESS")))
        intake = Intake(bins, env, SHIREN_INTAKE_FETCH_ALLOW_PRIVATE="true",
                        SHIREN_INTAKE_FETCH_TIMEOUT_MS=800)
        with psycopg.connect(env["SHIREN_PG_DSN"], autocommit=True) as db:
            yield env, tenant, intake, db
        assert intake.stop() == 0


def pv(tenant, order=None, **over):
    p = {"SceneId": str(tenant.scenes["PV_FV"]), "OuterOrderNo": order or f"o{time.time_ns()}",
         "ProductCode": "PV_FV", "UserId": "user-1", "MetaInfo": '{"zimVer":"3.0.0"}'}
    p.update(over)
    return p


def init(world, p):
    env, tenant, intake, db = world
    return Client(intake.addr, *tenant.key).rpc("InitFaceVerify", p).json()


def complete(world, certify_id, **kw):
    env, tenant, intake, db = world
    publish(env["SHIREN_KAFKA_BROKERS"], TOPIC_COMPLETED, certify_id,
            verify_completed(certify_id, tenant.id, **kw))


def wait_completed(db, certify_id, sub_code):
    wait_for(lambda: db.execute("SELECT sub_code FROM verifications WHERE certify_id = %s",
                                (certify_id,)).fetchone()[0] == sub_code,
             what=f"SubCode {sub_code} on {certify_id}")


def kafka_keys(env, topic):
    p = subprocess.run(["kcat", "-C", "-b", env["SHIREN_KAFKA_BROKERS"], "-t", topic, "-o",
                        "-2000", "-e", "-q", "-f", "%k\n"], capture_output=True, timeout=60)
    return set(p.stdout.decode("utf-8", "replace").split())


def test_personal_data_is_sealed_and_messages_are_emitted(world):
    env, tenant, intake, db = world
    cert_no = id_card_number(seq="321")
    r = Client(intake.addr, *tenant.key).rpc("InitFaceVerify", {
        "SceneId": str(tenant.scenes["ID_PRO"]), "OuterOrderNo": "sealed-1",
        "ProductCode": "ID_PRO", "CertName": "张三", "CertNo": cert_no, "Mobile": "13000000000",
        "Ip": "114.1.2.3", "MetaInfo": '{"zimVer":"3.0.0"}', "CertifyUrlType": "WEB",
        "CallbackUrl": "https://www.example.com/cb", "CallbackToken": "tok-1"}).json()
    assert r["Code"] == "200", r
    cid = r["ResultObject"]["CertifyId"]
    row = db.execute("SELECT cert_name_enc, cert_no_enc, cert_no_hash, pii_enc, cert_type, "
                     "callback_url, callback_token, model, options FROM verifications "
                     "WHERE certify_id = %s", (cid,)).fetchone()
    name_enc, no_enc, no_hash, pii_enc, cert_type, cb, tok, model, options = row
    assert len(name_enc) == len("张三".encode()) + 29 and "张三".encode() not in bytes(name_enc)
    assert len(no_enc) == 18 + 29 and cert_no.encode() not in bytes(no_enc)
    assert b"13000000000" not in bytes(pii_enc) and b"114.1.2.3" not in bytes(pii_enc)
    assert len(no_hash) == 32 and cert_type == "IDENTITY_CARD"
    assert (cb, tok, model) == ("https://www.example.com/cb", "tok-1", "LIVENESS")
    assert options == {"CertifyUrlType": "WEB"}
    session = db.execute("SELECT token_hash, url_type, expires_at - now() FROM h5_sessions "
                         "WHERE certify_id = %s", (cid,)).fetchone()
    token = r["ResultObject"]["CertifyUrl"].rsplit("/", 1)[1]
    assert bytes(session[0]) == hashlib.sha256(token.encode()).digest()
    assert session[1] == "WEB" and 1790 <= session[2].total_seconds() <= 1800
    # The same ID number gives the same lookup hash (and only a keyed hash is stored).
    r2 = Client(intake.addr, *tenant.key).rpc("InitFaceVerify", {
        "SceneId": str(tenant.scenes["ID_PRO"]), "OuterOrderNo": "sealed-2",
        "ProductCode": "ID_PRO", "CertName": "张三", "CertNo": cert_no,
        "MetaInfo": '{"zimVer":"3.0.0"}'}).json()
    h2 = db.execute("SELECT cert_no_hash FROM verifications WHERE certify_id = %s",
                    (r2["ResultObject"]["CertifyId"],)).fetchone()[0]
    assert bytes(h2) == bytes(no_hash) and bytes(no_hash) != hashlib.sha256(cert_no.encode()).digest()
    assert "CertifyUrl" not in r2["ResultObject"]
    # Outbox: VerifyRequested (key CertifyId) and a usage event (key tenant) reach Kafka.
    wait_for(lambda: db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0,
             what="the relay to publish")
    assert cid in kafka_keys(env, "shiren.verify.requested.v1")
    assert tenant.id in kafka_keys(env, "shiren.usage.v1")


def test_liveness_only_product_sends_no_verify_requested(world):
    env, tenant, intake, db = world
    before = seq_used(db, "outbox_id_seq")
    r = init(world, {"SceneId": str(tenant.scenes["LR_FR"]), "OuterOrderNo": "lrfr-1",
                     "ProductCode": "LR_FR", "UserId": "u", "MetaInfo": "{}"})
    assert r["Code"] == "200", r
    assert seq_used(db, "outbox_id_seq") == before + 1


def test_reference_photo_inline_and_by_url(world, images):
    env, tenant, intake, db = world
    for how, extra in (("inline", {"FaceContrastPicture": base64.b64encode(PNG).decode()}),
                       ("url", {"FaceContrastPictureUrl": images + "/ok.png"})):
        r = init(world, pv(tenant, **extra))
        assert r["Code"] == "200", (how, r)
        row = db.execute(
            "SELECT p.kind, p.source, p.mime, p.width, p.height, p.size_bytes, p.sha256, "
            "v.ref_kind, v.model FROM verifications v JOIN photos p ON p.id = v.ref_photo_id "
            "WHERE v.certify_id = %s", (r["ResultObject"]["CertifyId"],)).fetchone()
        assert row[:6] == ("reference", how, "image/png", 120, 160, len(PNG))
        assert bytes(row[6]) == hashlib.sha256(PNG).digest()
        assert row[7] == how and row[8] == "MOVE_ACTION"  # the scene's model


@pytest.mark.parametrize("path,code,text", [
    ("/missing", "419", "could not be downloaded"),
    ("/text", "419", "not a JPEG or PNG"),
    ("/big.png", "421", "larger than 1048576"),
    ("/big-chunked", "421", "larger than 1048576"),
    ("/slow.png", "422", "longer than 800 ms"),
])
def test_url_download_limits(world, images, path, code, text):
    env, tenant, intake, db = world
    n = db.execute("SELECT count(*) FROM verifications").fetchone()[0]
    t0 = time.time()
    r = init(world, pv(tenant, FaceContrastPictureUrl=images + path))
    assert r["Code"] == code and text in r["Message"], r
    assert time.time() - t0 < 2.0
    assert db.execute("SELECT count(*) FROM verifications").fetchone()[0] == n


def test_url_download_goes_through_the_proxy(bins, world, images):
    env, tenant, intake, db = world
    proxied = Intake(bins, env, http_proxy=images, HTTPS_PROXY=images)
    try:
        Images.seen.clear()
        r = Client(proxied.addr, *tenant.key).rpc("InitFaceVerify", pv(
            tenant, FaceContrastPictureUrl="http://images.shiren.invalid/face.png")).json()
        assert r["Code"] == "200", r
        assert "http://images.shiren.invalid/face.png" in Images.seen
    finally:
        assert proxied.stop() == 0


def test_deadline_answers_503_in_time(bins, world, images):
    env, tenant, intake, db = world
    quick = Intake(bins, env, SHIREN_INTAKE_DEADLINE_MS=400,
                   SHIREN_INTAKE_FETCH_ALLOW_PRIVATE="true")
    try:
        c = Client(quick.addr, *tenant.key)
        t0 = time.time()
        r = c.rpc("InitFaceVerify", pv(tenant, FaceContrastPictureUrl=images + "/slow.png"))
        assert r.status == 503 and r.json()["Code"] == "ServiceUnavailable", r
        assert time.time() - t0 < 1.0
        line = [l for l in quick.log_lines() if l.get("req_id") == r.json()["RequestId"]]
        assert line and line[0]["error"] == "request deadline reached with work pending", line
        # The server stays healthy: the download finishes in the background and is dropped.
        time.sleep(3.2)
        ok = c.rpc("InitFaceVerify", pv(tenant, FaceContrastPictureUrl=images + "/ok.png"))
        assert ok.json()["Code"] == "200"
    finally:
        assert quick.stop() == 0


def test_result_describe_window_delete_and_reference(world):
    env, tenant, intake, db = world
    c = Client(intake.addr, *tenant.key)
    scene = str(tenant.scenes["PV_FV"])
    r = init(world, pv(tenant, FaceContrastPicture=base64.b64encode(PNG).decode()))
    cid = r["ResultObject"]["CertifyId"]
    photo = db.execute("SELECT ref_photo_id FROM verifications WHERE certify_id = %s",
                       (cid,)).fetchone()[0]

    d = c.rpc("DescribeFaceVerify", {"SceneId": scene, "CertifyId": cid}).json()
    assert d["Code"] == "424"
    # An unknown scene, and the CertifyId under another of the tenant's scenes.
    d = c.rpc("DescribeFaceVerify", {"SceneId": "99999999", "CertifyId": cid}).json()
    assert d["Code"] == "404"
    d = c.rpc("DescribeFaceVerify", {"SceneId": str(tenant.scenes["ID_PRO"]),
                                     "CertifyId": cid}).json()
    assert d["Code"] == "406"

    # A failed attempt, then the passing retry; a stale completion arriving late is ignored.
    now = int(time.time() * 1000)
    complete(world, cid, passed=False, sub_code=204, completed_at_ms=now - 5000)
    wait_completed(db, cid, 204)
    d = c.rpc("DescribeFaceVerify", {"SceneId": scene, "CertifyId": cid}).json()
    assert d["ResultObject"]["Passed"] == "F" and d["ResultObject"]["SubCode"] == "204"
    complete(world, cid, face_photo_id=photo, completed_at_ms=now)
    wait_completed(db, cid, 200)
    complete(world, cid, passed=False, sub_code=205, completed_at_ms=now - 1000)
    time.sleep(1.5)
    d = c.rpc("DescribeFaceVerify", {"SceneId": scene, "CertifyId": cid}).json()
    assert d["ResultObject"]["Passed"] == "T" and d["ResultObject"]["SubCode"] == "200"
    import json
    m = json.loads(d["ResultObject"]["MaterialInfo"])
    assert base64.b64decode(m["facialPictureFront"]["pictureBase64"]) == PNG
    assert m["facialPictureFront"]["pictureType"] == "image/png"

    # A passed CertifyId serves as the reference of a new verification; a failed one does not.
    r2 = init(world, pv(tenant, CertifyId=cid))
    assert r2["Code"] == "200", r2
    ref = db.execute("SELECT ref_photo_id, ref_kind FROM verifications WHERE certify_id = %s",
                     (r2["ResultObject"]["CertifyId"],)).fetchone()
    assert ref == (photo, "certify_id")
    complete(world, r2["ResultObject"]["CertifyId"], passed=False, sub_code=204)
    wait_completed(db, r2["ResultObject"]["CertifyId"], 204)
    assert init(world, pv(tenant, CertifyId=r2["ResultObject"]["CertifyId"]))["Code"] == "423"

    # Past the photo window the photo is no longer returned (nor usable as a reference).
    db.execute("UPDATE photos SET created_at = now() - interval '24 hours' WHERE id = %s",
               (photo,))
    d = c.rpc("DescribeFaceVerify", {"SceneId": scene, "CertifyId": cid}).json()
    m = json.loads(d["ResultObject"]["MaterialInfo"])
    assert "pictureBase64" not in m["facialPictureFront"] and d["ResultObject"]["Passed"] == "T"
    r3 = init(world, pv(tenant, CertifyId=cid))
    assert r3["Code"] == "419" and "no longer available" in r3["Message"]
    db.execute("UPDATE photos SET created_at = now() WHERE id = %s", (photo,))

    # Delete wipes the personal data and the photo; the outcome stays.
    x = c.rpc("DeleteFaceVerifyResult", {"CertifyId": cid, "DeleteAfterQuery": "Y"}).json()
    assert x["ResultObject"]["DeleteResult"] == "Y", x
    row = db.execute("SELECT pii_enc, cert_name_enc, cert_no_hash, deleted_at IS NOT NULL, "
                     "passed FROM verifications WHERE certify_id = %s", (cid,)).fetchone()
    assert row == (None, None, None, True, True)
    assert db.execute("SELECT data_enc, purged_at IS NOT NULL FROM photos WHERE id = %s",
                      (photo,)).fetchone() == (None, True)
    d = c.rpc("DescribeFaceVerify", {"SceneId": scene, "CertifyId": cid}).json()
    m = json.loads(d["ResultObject"]["MaterialInfo"])
    assert d["ResultObject"]["Passed"] == "T" and "pictureBase64" not in m["facialPictureFront"]
    assert "DeviceToken" not in d["ResultObject"]


def test_page_statistics(world):
    env, tenant, intake, db = world
    c = Client(intake.addr, *tenant.key)
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))  # Asia/Shanghai
    r = c.rpc("DescribePageFaceVerifyData", {"StartDate": today, "EndDate": today,
                                             "PageSize": "1"}).json()
    assert r["Code"] == "200" and r["Success"] == "true"
    expect = db.execute(
        "SELECT scene_id, product_code, count(*), count(*) FILTER (WHERE passed) "
        "FROM verifications WHERE (created_at AT TIME ZONE 'Asia/Shanghai')::date = %s::date "
        "GROUP BY 1, 2 ORDER BY 1, 2", (today,)).fetchall()
    assert r["TotalCount"] == str(len(expect)) and r["TotalPage"] == str(len(expect))
    got = []
    for page in range(1, len(expect) + 1):
        r = c.rpc("DescribePageFaceVerifyData", {"StartDate": today, "EndDate": today,
                                                 "PageSize": "1",
                                                 "CurrentPage": str(page)}).json()
        assert len(r["Items"]) == 1 and r["CurrentPage"] == str(page)
        i = r["Items"][0]
        assert i["Date"] == today + "T00:00:00.000Z"
        got.append((int(i["SceneId"]), i["ProductCode"], int(i["TotalCount"]),
                    int(i["SuccessCount"])))
    assert got == [tuple(x) for x in expect]
    r = c.rpc("DescribePageFaceVerifyData", {"StartDate": today, "EndDate": today,
                                             "ProductCode": "LR_FR"}).json()
    assert [i["ProductCode"] for i in r["Items"]] == ["LR_FR"]
