"""SDK compatibility: the official Node.js clients against a running shiren-intake on the local
stack. @alicloud/cloudauth20190307 in its default mode (ACS3-HMAC-SHA256) and with
signatureAlgorithm 'v2' (RPC HMAC-SHA1), @alicloud/pop-core with GET and POST, each calling
every implemented action (tests/sdk/*.test.js, run with `node --test`).

This driver migrates a fresh database, creates the tenant, keys and scenes with shirenctl,
starts two intakes on it (the second throttled to 1 request/s per tenant, which also shows that
nonces and keys are shared across processes), prepares one completed verification (a
VerifyCompleted published on Kafka, as the liveness service would), and runs the Node tests."""
import hashlib
import os
import shutil
import subprocess
import tempfile

import psycopg
import pytest

from acs_sign import Client
from conftest import ROOT
from intake_harness import (TOPIC_COMPLETED, Intake, Tenant, id_card_number, make_png, publish,
                            verify_completed, wait_for)

SDK_DIR = ROOT / "tests" / "sdk"


def npm_ci():
    """`npm ci` once per package-lock.json (a stamp in node_modules records which)."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.fail("node and npm are required for the SDK compatibility tests")
    lock = hashlib.sha256((SDK_DIR / "package-lock.json").read_bytes()).hexdigest()
    stamp = SDK_DIR / "node_modules" / ".shiren-lock-sha256"
    if stamp.exists() and stamp.read_text().strip() == lock:
        return
    p = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                       cwd=SDK_DIR, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"npm ci failed:\n{p.stdout}\n{p.stderr}"
    stamp.write_text(lock + "\n")


@pytest.fixture
def stack(bins, migrated_env):
    tenant = Tenant(bins, migrated_env, scenes=(("ID_PRO", "LIVENESS"), ("PV_FV", "LIVENESS")))
    disabled = tenant.disabled_key(bins, migrated_env)
    main = Intake(bins, migrated_env)
    throttled = Intake(bins, migrated_env, SHIREN_INTAKE_THROTTLE_QPS=1,
                       SHIREN_INTAKE_THROTTLE_BURST=1)
    yield migrated_env, tenant, disabled, main, throttled
    assert throttled.stop() == 0
    assert main.stop() == 0


def completed_verification(env, tenant, intake, photo):
    """A PV_FV verification whose result arrived: Passed T, SubCode 200, the photo kept."""
    c = Client(intake.addr, *tenant.key)
    import base64
    r = c.rpc("InitFaceVerify", {
        "SceneId": str(tenant.scenes["PV_FV"]), "OuterOrderNo": "done1", "ProductCode": "PV_FV",
        "MetaInfo": '{"zimVer":"3.0.0"}', "UserId": "u1", "CertName": "张三",
        "CertNo": id_card_number(), "FaceContrastPicture": base64.b64encode(photo).decode()})
    assert r.status == 200 and r.json()["Code"] == "200", (r, intake.logs()[-3000:])
    certify_id = r.json()["ResultObject"]["CertifyId"]
    with psycopg.connect(env["SHIREN_PG_DSN"], autocommit=True) as db:
        photo_id = db.execute("SELECT ref_photo_id FROM verifications WHERE certify_id = %s",
                              (certify_id,)).fetchone()[0]
        publish(env["SHIREN_KAFKA_BROKERS"], TOPIC_COMPLETED, certify_id,
                verify_completed(certify_id, tenant.id, face_photo_id=photo_id))
        wait_for(lambda: db.execute(
            "SELECT status = 'completed' FROM verifications WHERE certify_id = %s",
            (certify_id,)).fetchone()[0], what="the VerifyCompleted to be applied")
    return certify_id


def test_official_sdks(stack):
    env, tenant, disabled, main, throttled = stack
    npm_ci()
    photo = make_png(96, 128)
    certify_id = completed_verification(env, tenant, main, photo)
    with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as f:
        f.write(photo)
    node_env = dict(os.environ)
    node_env.update({
        "SHIREN_SDK_ENDPOINT": main.addr,
        "SHIREN_SDK_THROTTLED_ENDPOINT": throttled.addr,
        "SHIREN_SDK_AK": tenant.key[0],
        "SHIREN_SDK_SECRET": tenant.key[1],
        "SHIREN_SDK_DISABLED_AK": disabled[0],
        "SHIREN_SDK_DISABLED_SECRET": disabled[1],
        "SHIREN_SDK_SCENE_ID_PRO": str(tenant.scenes["ID_PRO"]),
        "SHIREN_SDK_SCENE_PV_FV": str(tenant.scenes["PV_FV"]),
        "SHIREN_SDK_DONE_CERTIFY_ID": certify_id,
        "SHIREN_SDK_DONE_SCENE": str(tenant.scenes["PV_FV"]),
        "SHIREN_SDK_PHOTO_FILE": f.name,
    })
    try:
        p = subprocess.run(["node", "--test", "cloudauth.test.js",
                            "popcore.test.js"], cwd=SDK_DIR, env=node_env, capture_output=True,
                           text=True, timeout=300)
    finally:
        os.unlink(f.name)
    assert p.returncode == 0, f"node --test failed:\n{p.stdout}\n{p.stderr}"
    assert "# fail 0" in p.stdout
    summary = [l for l in p.stdout.splitlines() if l.startswith(("# tests", "# pass"))]
    print("node --test:", ", ".join(summary))
    assert int(summary[1].split()[-1]) >= 40, p.stdout

    # Every answer was logged once, with the request id, tenant, action, code and latency,
    # and counted in /metrics.
    lines = [l for l in main.log_lines() if l["msg"] == "request"]
    assert len(lines) >= 40
    for l in lines:
        assert {"req_id", "tenant", "action", "code", "http", "latency_ms"} <= set(l)
        assert l["latency_ms"] < 1000
    init_ok = [l for l in lines if l["action"] == "InitFaceVerify" and l["code"] == "200"]
    assert init_ok and all(l["tenant"] == tenant.id for l in init_ok)
    m = main.metrics()
    assert 'shiren_intake_requests_total{action="InitFaceVerify",code="200"}' in m
    assert 'shiren_intake_requests_total{action="DescribeFaceVerify",code="424"}' in m
    assert 'shiren_intake_request_seconds_bucket{action="DescribeFaceVerify",le=' in m
    assert 'code="Throttling.User"' in throttled.metrics()


def test_shirenctl_snippet_works_as_printed(bins, stack):
    """`shirenctl key create` prints a client configuration: run it as printed (plus one call
    per client) against the intake it names."""
    env, tenant, disabled, main, throttled = stack
    npm_ci()
    from conftest import run
    out = run([bins.shirenctl, "key", "create", "--tenant", tenant.name, "--endpoint",
               main.addr], env).stdout
    snippet = out[out.index("// @alicloud/cloudauth20190307"):]
    assert f"endpoint: '{main.addr}'" in snippet and f"endpoint: 'http://{main.addr}'" in snippet
    script = snippet + """
(async () => {
  const r = await client.describePageFaceVerifyData(
    new Cloudauth.DescribePageFaceVerifyDataRequest({startDate: '2026-01-01',
                                                     endDate: '2026-01-02'}));
  const p = await popClient.request('DescribePageFaceVerifyData',
    {StartDate: '2026-01-01', EndDate: '2026-01-02'}, {method: 'POST'});
  console.log(JSON.stringify([r.body.code, p.Code]));
})().catch((e) => { console.error(e); process.exit(1); });
"""
    path = SDK_DIR / "snippet.tmp.js"
    path.write_text(script)
    try:
        p = subprocess.run(["node", str(path)], cwd=SDK_DIR, capture_output=True, text=True,
                           timeout=60)
    finally:
        path.unlink()
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == '["200","200"]'
