"""The bad-input table of docs/api.md ("Bad input"), one test per row, with raw HTTP requests
signed in Python (acs_sign.py). Each row checks the documented HTTP status and Code and that
nothing changed: every table's rows and content and every sequence (so no outbox message was
enqueued, hence nothing can reach Kafka) are the same before and after.

Most rows are InitFaceVerify requests that would otherwise succeed, so a missing check shows up
as a created verification."""
import base64
import time

import pytest

from acs_sign import (Client, acs3_request, build, encode_pairs, now_iso, rpc_request,
                      send_raw)
from intake_harness import Intake, MigratedDb, Tenant, id_card_number, make_png, snapshot


@pytest.fixture(scope="module")
def world(stack_env, bins):
    with MigratedDb(stack_env, bins) as env:
        tenant = Tenant(bins, env, scenes=(("ID_PRO", "LIVENESS"), ("PV_FV", "LIVENESS")))
        other = Tenant(bins, env)
        disabled = tenant.disabled_key(bins, env)
        intake = Intake(bins, env)
        second = Intake(bins, env)  # another process on the same database
        yield env, tenant, other, disabled, intake, second
        assert second.stop() == 0
        assert intake.stop() == 0


def init_params(tenant, **over):
    p = {"SceneId": str(tenant.scenes["ID_PRO"]), "OuterOrderNo": "o" + str(time.time_ns()),
         "ProductCode": "ID_PRO", "CertName": "张三", "CertNo": id_card_number(),
         "MetaInfo": '{"zimVer":"3.0.0"}', "CertifyUrlType": "WEB"}
    p.update(over)
    return {k: v for k, v in p.items() if v is not None}


def pv_params(tenant, **over):
    return init_params(tenant, SceneId=str(tenant.scenes["PV_FV"]), ProductCode="PV_FV",
                       UserId="u1", CertifyUrlType=None, **over)


# Each row: (id, request builder(world) -> raw bytes, HTTP status, Code or None, text in body)
def rpc_raw(world, business, method="POST", **kw):
    env, tenant, other, disabled, intake, second = world
    akid, secret = kw.pop("key", tenant.key)
    target, headers, body = rpc_request(method, kw.pop("action", "InitFaceVerify"), business,
                                        akid, secret, **kw)
    return build(method, target, headers, body, host=intake.addr)


def acs3_raw(world, query, form=(), mutate=None, **kw):
    env, tenant, other, disabled, intake, second = world
    target, headers, body = acs3_request("POST", kw.pop("action", "InitFaceVerify"),
                                         list(query), list(form), *tenant.key, intake.addr, **kw)
    if mutate:
        target, headers, body = mutate(target, headers, body)
    return build("POST", target, headers, body, chunked=bool(body))


def signed_then(world, edit):
    """A valid RPC GET InitFaceVerify whose raw query text is then edited by `edit`."""
    env, tenant, other, disabled, intake, second = world
    target, headers, _ = rpc_request("GET", "InitFaceVerify", init_params(tenant), *tenant.key)
    return build("GET", edit(target), headers, host=intake.addr)


def truncate_auth(target, headers, body):
    headers["Authorization"] = headers["Authorization"][:-30]
    return target, headers, body


def tamper_body(target, headers, body):
    return target, headers, body.replace(b"LIVENESS", b"LIVENESX")


ROWS = [
    ("malformed-percent-encoding",
     lambda w: signed_then(w, lambda t: t.replace("CertName=", "CertName=%G1", 1)),
     400, "InvalidParameter", "percent"),
    ("bad-utf8",
     lambda w: signed_then(w, lambda t: t.replace("CertName=", "CertName=%C3%28", 1)),
     400, "InvalidParameter", "UTF-8"),
    ("nul-byte",
     lambda w: signed_then(w, lambda t: t.replace("CertName=", "CertName=%00", 1)),
     400, "InvalidParameter", None),
    ("duplicate-parameter-query",
     lambda w: signed_then(w, lambda t: t + "&SceneId=1"),
     400, "InvalidParameter", "more than once"),
    ("duplicate-parameter-query-and-body",
     lambda w: acs3_raw(w, [("SceneId", str(w[1].scenes["ID_PRO"]))],
                        [("SceneId", str(w[1].scenes["ID_PRO"])), ("Model", "LIVENESS")]),
     400, "InvalidParameter", "more than once"),
    ("request-line-too-long",
     lambda w: rpc_raw(w, init_params(w[1], MetaInfo='{"x":"' + "a" * 17000 + '"}'),
                       method="GET"),
     414, "RequestLineTooLong", "16384"),
    ("request-line-beyond-evhttp-cap",
     lambda w: build("GET", "/?x=" + "a" * 40000, {}, host=w[4].addr),
     400, None, "Bad Request"),
    ("body-too-large",
     lambda w: build("POST", "/", {"content-type": "application/x-www-form-urlencoded"},
                     b"FaceContrastPicture=" + b"A" * (9 << 20), host=w[4].addr),
     413, None, "Request Entity Too Large"),
    ("chunked-body-too-large",
     lambda w: build("POST", "/", {"content-type": "application/x-www-form-urlencoded"},
                     b"FaceContrastPicture=" + b"A" * (9 << 20), host=w[4].addr, chunked=True),
     413, None, "Request Entity Too Large"),
    ("missing-host",
     lambda w: build("GET", rpc_request("GET", "InitFaceVerify", init_params(w[1]),
                                        *w[1].key)[0], {}),
     400, "MissingHost", None),
    ("wrong-content-type",
     lambda w: build("POST", "/?" + encode_pairs(sorted(init_params(w[1]).items())),
                     {"content-type": "application/json"}, b'{"a":1}', host=w[4].addr),
     415, "UnsupportedMediaType", None),
    ("unsupported-method",
     lambda w: build("PUT", rpc_request("GET", "InitFaceVerify", init_params(w[1]),
                                        *w[1].key)[0], {}, host=w[4].addr),
     400, "UnsupportedHTTPMethod", None),
    ("wrong-path",
     lambda w: build("GET", "/api" + rpc_request("GET", "InitFaceVerify", init_params(w[1]),
                                                 *w[1].key)[0], {}, host=w[4].addr),
     404, "InvalidAction.NotFound", None),
    ("unknown-action",
     lambda w: rpc_raw(w, init_params(w[1]), action="InitFaceVerifyX"),
     404, "InvalidAction.NotFound", None),
    ("unknown-version",
     lambda w: rpc_raw(w, init_params(w[1]), version="2017-01-17"),
     400, "InvalidVersion", None),
    ("expired-timestamp",
     lambda w: rpc_raw(w, init_params(w[1]), timestamp=now_iso(-16 * 60)),
     400, "InvalidTimeStamp.Expired", None),
    ("future-timestamp",
     lambda w: rpc_raw(w, init_params(w[1]), timestamp=now_iso(16 * 60)),
     400, "InvalidTimeStamp.Expired", None),
    ("malformed-timestamp",
     lambda w: rpc_raw(w, init_params(w[1]), timestamp="2026-11-28 12:00:00"),
     400, "InvalidTimeStamp.Format", None),
    ("wrong-secret",
     lambda w: rpc_raw(w, init_params(w[1]), key=(w[1].key[0], "x" * 30)),
     400, "SignatureDoesNotMatch", "server string to sign is:POST&%2F&AccessKeyId%3D"),
    ("acs3-body-tampered",
     lambda w: acs3_raw(w, sorted(init_params(w[1]).items()), [("Model", "LIVENESS")],
                        mutate=tamper_body),
     400, "SignatureDoesNotMatch", "x-acs-content-sha256"),
    ("unknown-key",
     lambda w: rpc_raw(w, init_params(w[1]), key=("LTAI" + "Z" * 20, "x" * 30)),
     404, "InvalidAccessKeyId.NotFound", None),
    ("disabled-key",
     lambda w: rpc_raw(w, init_params(w[1]), key=w[3]),
     400, "InvalidAccessKeyId.Inactive", None),
    ("truncated-authorization",
     lambda w: acs3_raw(w, sorted(init_params(w[1]).items()), mutate=truncate_auth),
     400, "IncompleteSignature", None),
    ("missing-signature-method",
     lambda w: signed_then(w, lambda t: t.replace("SignatureMethod=HMAC-SHA1&", "")),
     400, "MissingSignatureMethod", None),
    ("sts-token",
     lambda w: rpc_raw(w, init_params(w[1]), extra={"SecurityToken": "CAIS-sts"}),
     400, "InvalidSecurityToken.Malformed", "AccessKey pairs only"),
    ("missing-required-parameter",
     lambda w: rpc_raw(w, init_params(w[1], SceneId=None)),
     200, "400", "SceneId"),
    ("bad-enum",
     lambda w: rpc_raw(w, init_params(w[1], CertifyUrlType="APP")),
     200, "401", "CertifyUrlType"),
    ("bad-cert-no",
     lambda w: rpc_raw(w, init_params(w[1], CertNo="330103199001011234")),
     200, "401", "check character"),
    ("scene-of-another-tenant",
     lambda w: rpc_raw(w, init_params(w[1], SceneId=str(w[2].scenes["ID_PRO"]))),
     200, "404", "Scene"),
    ("broken-base64-image",
     lambda w: rpc_raw(w, pv_params(w[1], FaceContrastPicture="iVBORw0KGgo*AAAA")),
     200, "419", "Base64"),
    ("non-image-bytes",
     lambda w: rpc_raw(w, pv_params(w[1], FaceContrastPicture=base64.b64encode(
         b"%PDF-1.4 this is not an image" * 10).decode())),
     200, "419", "not a JPEG or PNG"),
    ("truncated-image",
     lambda w: rpc_raw(w, pv_params(w[1], FaceContrastPicture=base64.b64encode(
         make_png()[:20]).decode())),
     200, "419", "damaged"),
    ("image-too-small",
     lambda w: rpc_raw(w, pv_params(w[1], FaceContrastPicture=base64.b64encode(
         make_png(8, 8)).decode())),
     200, "419", "8x8"),
    ("image-over-1mb",
     lambda w: rpc_raw(w, pv_params(w[1], FaceContrastPicture=base64.b64encode(
         b"\x89PNG" + b"\0" * (1 << 20)).decode())),
     200, "421", "larger than"),
    ("two-image-inputs",
     lambda w: rpc_raw(w, pv_params(w[1], FaceContrastPicture="AAAA",
                                    FaceContrastPictureUrl="https://a.example/p.png")),
     200, "420", None),
    ("oss-input",
     lambda w: rpc_raw(w, pv_params(w[1], OssBucketName="b", OssObjectName="o.jpg")),
     200, "410", "OSS"),
    ("url-to-private-address-refused",
     lambda w: rpc_raw(w, pv_params(w[1], FaceContrastPictureUrl="http://127.0.0.1:9/p.png")),
     200, "419", "non-public"),
    ("reference-certify-id-not-passed",
     lambda w: rpc_raw(w, pv_params(w[1], CertifyId="0" * 32)),
     200, "423", None),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_changes_nothing(world, row):
    env, tenant, other, disabled, intake, second = world
    name, make, status, code, text = row
    raw = make(world)
    before = snapshot(env["SHIREN_PG_DSN"])
    r = send_raw(intake.addr, raw, timeout=30)
    assert r.status == status, r
    if code is not None:
        body = r.json()
        assert body["Code"] == code, r
        assert set(body) >= {"RequestId", "Code", "Message"}
        assert r.headers["content-type"] == "application/json;charset=utf-8"
    if text:
        assert text in r.body.decode("utf-8", "replace"), r
    assert snapshot(env["SHIREN_PG_DSN"]) == before


def test_reused_nonce_is_refused_by_every_process(world):
    env, tenant, other, disabled, intake, second = world
    target, headers, body = rpc_request("POST", "InitFaceVerify", init_params(tenant),
                                        *tenant.key)
    raw = build("POST", target, headers, body, host=intake.addr)
    first = send_raw(intake.addr, raw)
    assert first.status == 200 and first.json()["Code"] == "200", first
    before = snapshot(env["SHIREN_PG_DSN"])
    for addr in (intake.addr, second.addr):  # the replay, on this and on another process
        again = send_raw(addr, raw)
        assert again.status == 400 and again.json()["Code"] == "SignatureNonceUsed", again
    assert snapshot(env["SHIREN_PG_DSN"]) == before
    # ACS3 too: the nonce is the x-acs-signature-nonce header.
    q = sorted(init_params(tenant).items())
    target, headers, body = acs3_request("POST", "InitFaceVerify", q, [], *tenant.key,
                                         second.addr)
    raw = build("POST", target, headers, body)
    assert send_raw(second.addr, raw).json()["Code"] == "200"
    before = snapshot(env["SHIREN_PG_DSN"])
    r = send_raw(intake.addr, build("POST", target, headers, body))
    assert r.status == 400 and r.json()["Code"] == "SignatureNonceUsed"
    assert snapshot(env["SHIREN_PG_DSN"]) == before


def test_nonce_rows_expire_after_the_window(world):
    """A nonce is kept until its request's timestamp leaves the ±15 min window (+1 min)."""
    import psycopg
    env, tenant, other, disabled, intake, second = world
    c = Client(intake.addr, *tenant.key)
    ts = now_iso(-14 * 60)
    r = c.rpc("DescribePageFaceVerifyData", {"StartDate": "2026-01-01", "EndDate": "2026-01-02"},
              timestamp=ts, signature_nonce="nonce-window-check")
    assert r.json()["Code"] == "200", r
    with psycopg.connect(env["SHIREN_PG_DSN"], autocommit=True) as db:
        left = db.execute("SELECT extract(epoch FROM expires_at - now()) FROM intake_nonces "
                          "WHERE nonce = 'nonce-window-check'").fetchone()[0]
    assert 60 <= float(left) <= 125  # 14 min ago + 16 min: about 2 min left


def test_disabled_key_is_refused_within_cache_time(bins, world):
    env, tenant, other, disabled, intake, second = world
    from conftest import run
    key = tenant._key(bins, env)
    c = Client(intake.addr, *key)
    ok = c.rpc("DescribePageFaceVerifyData", {"StartDate": "2026-01-01", "EndDate": "2026-01-02"})
    assert ok.json()["Code"] == "200"
    run([bins.shirenctl, "key", "disable", key[0]], env)
    t0 = time.time()
    while True:
        r = c.rpc("DescribePageFaceVerifyData", {"StartDate": "2026-01-01",
                                                 "EndDate": "2026-01-02"})
        if r.status == 400:
            assert r.json()["Code"] == "InvalidAccessKeyId.Inactive"
            break
        assert time.time() - t0 < 6.5, "a disabled key was still accepted after 6.5 s"
        time.sleep(0.25)


def test_every_answer_is_logged_and_counted(world):
    env, tenant, other, disabled, intake, second = world
    for name in ("bad-utf8", "wrong-secret", "broken-base64-image", "missing-host"):
        row = next(r for r in ROWS if r[0] == name)
        assert send_raw(intake.addr, row[1](world)).status == row[2]
    lines = [l for l in intake.log_lines() if l["msg"] == "request"]
    codes = {l["code"] for l in lines}
    assert {"InvalidParameter", "SignatureDoesNotMatch", "419", "MissingHost"} <= codes
    for l in lines:
        assert l["req_id"] and isinstance(l["latency_ms"], float)
        # logs never carry names, ID numbers or secrets
        assert "张三" not in str(l) and tenant.key[1] not in str(l)
    m = intake.metrics()
    assert 'shiren_intake_requests_total{action="InitFaceVerify",code="419"}' in m


def test_deleted_key_and_suspended_tenant_are_refused(bins, world):
    """shirenctl has no delete/suspend yet: the rows are changed directly, as it will."""
    import psycopg
    env, tenant, other, disabled, intake, second = world
    page = {"StartDate": "2026-01-01", "EndDate": "2026-01-02"}
    key = tenant._key(bins, env)
    c = Client(second.addr, *key)
    assert c.rpc("DescribePageFaceVerifyData", page).json()["Code"] == "200"
    with psycopg.connect(env["SHIREN_PG_DSN"], autocommit=True) as db:
        db.execute("UPDATE access_keys SET status = 'deleted', disabled_at = now() "
                   "WHERE access_key_id = %s", (key[0],))
        time.sleep(5.2)  # the key cache's bound
        r = c.rpc("DescribePageFaceVerifyData", page)
        assert r.status == 404 and r.json()["Code"] == "InvalidAccessKeyId.NotFound", r
        c = Client(second.addr, *other.key)
        assert c.rpc("DescribePageFaceVerifyData", page).json()["Code"] == "200"
        db.execute("UPDATE tenants SET status = 'suspended' WHERE id = %s", (other.id,))
        try:
            time.sleep(5.2)
            r = c.rpc("DescribePageFaceVerifyData", page)
            assert r.status == 400 and r.json()["Code"] == "InvalidAccessKeyId.Inactive", r
            assert "suspended" in r.json()["Message"]
        finally:
            db.execute("UPDATE tenants SET status = 'active' WHERE id = %s", (other.id,))
