"""InitFaceVerify idempotency on (tenant, OuterOrderNo): a retry with the same parameters gets
the same CertifyId (and CertifyUrl), whatever the SDK, signature scheme or intake process; the
same OuterOrderNo with other parameters is refused; concurrent duplicates create exactly one
verification, one photo and one set of messages (unique key + keyed request fingerprint)."""
import base64
import concurrent.futures
import time

import psycopg
import pytest

from acs_sign import Client
from intake_harness import Intake, seq_used, MigratedDb, Tenant, id_card_number, make_png


@pytest.fixture(scope="module")
def world(stack_env, bins):
    with MigratedDb(stack_env, bins) as env:
        tenant = Tenant(bins, env, scenes=(("ID_PRO", "LIVENESS"), ("PV_FV", "LIVENESS")))
        other = Tenant(bins, env)
        # Two processes behind one public name, as in a deployment.
        common = {"SHIREN_INTAKE_THROTTLE_QPS": 0,
                  "SHIREN_INTAKE_PUBLIC_URL": "https://verify.example.test/"}
        a = Intake(bins, env, **common)
        b = Intake(bins, env, **common)
        with psycopg.connect(env["SHIREN_PG_DSN"], autocommit=True) as db:
            yield env, tenant, other, a, b, db
        assert a.stop() == 0 and b.stop() == 0


def params(tenant, order, **over):
    p = {"SceneId": str(tenant.scenes["ID_PRO"]), "OuterOrderNo": order, "ProductCode": "ID_PRO",
         "CertName": "张三", "CertNo": id_card_number(seq="777"),
         "MetaInfo": '{"zimVer":"3.0.0"}', "CertifyUrlType": "H5", "UserId": "u 1+2"}
    p.update(over)
    return {k: v for k, v in p.items() if v is not None}


def call(client, p, how):
    """Sends `p` as InitFaceVerify: RPC in the body, RPC in the query, or ACS3 split like the
    cloudauth SDK (Model in the form body, the rest in the query)."""
    if how == "rpc-post":
        return client.rpc("InitFaceVerify", p)
    if how == "rpc-get":
        return client.rpc("InitFaceVerify", p, method="GET")
    body = [(k, v) for k, v in p.items() if k in ("Model", "FaceContrastPicture")]
    query = sorted((k, v) for k, v in p.items() if k not in ("Model", "FaceContrastPicture"))
    return client.acs3("InitFaceVerify", query=query, form=body)


def seq(db, name):
    return seq_used(db, name)


def test_retry_returns_the_same_certify_id_across_schemes_and_processes(world):
    env, tenant, other, a, b, db = world
    p = params(tenant, "retry-1", Model="LIVENESS")
    first = call(Client(a.addr, *tenant.key), p, "rpc-post").json()
    assert first["Code"] == "200", first
    for addr in (a.addr, b.addr):
        for how in ("rpc-post", "rpc-get", "acs3"):
            again = call(Client(addr, *tenant.key), p, how).json()
            assert again["Code"] == "200", (how, again)
            assert again["ResultObject"] == first["ResultObject"], how
    n = db.execute("SELECT count(*) FROM verifications WHERE outer_order_no = 'retry-1'")
    assert n.fetchone()[0] == 1


def test_same_order_with_other_parameters_is_refused(world):
    env, tenant, other, a, b, db = world
    c = Client(a.addr, *tenant.key)
    p = params(tenant, "conflict-1")
    first = c.rpc("InitFaceVerify", p).json()
    assert first["Code"] == "200"
    rows = db.execute("SELECT count(*) FROM verifications").fetchone()[0]
    for change in ({"CertName": "李四"}, {"CertifyUrlType": None}, {"Model": "MOVE_ACTION"},
                   {"UserId": "u 1+3"}):
        r = c.rpc("InitFaceVerify", params(tenant, "conflict-1", **change)).json()
        assert r["Code"] == "401", (change, r)
        assert "already used" in r["Message"] and first["ResultObject"]["CertifyId"] in r["Message"]
    assert db.execute("SELECT count(*) FROM verifications").fetchone()[0] == rows
    # Unknown parameters are ignored, so they do not make it another request.
    r = c.rpc("InitFaceVerify", dict(p, SomeNewSdkField="Y")).json()
    assert r["ResultObject"]["CertifyId"] == first["ResultObject"]["CertifyId"]


def test_order_numbers_are_per_tenant(world):
    env, tenant, other, a, b, db = world
    mine = Client(a.addr, *tenant.key).rpc("InitFaceVerify", params(tenant, "shared-1")).json()
    theirs = Client(a.addr, *other.key).rpc("InitFaceVerify", params(other, "shared-1")).json()
    assert mine["Code"] == theirs["Code"] == "200"
    assert mine["ResultObject"]["CertifyId"] != theirs["ResultObject"]["CertifyId"]


def test_refused_request_does_not_take_the_order_number(world):
    env, tenant, other, a, b, db = world
    c = Client(a.addr, *tenant.key)
    db.execute("INSERT INTO metering_blocked (tenant_id, product) VALUES (%s, 1)", (tenant.id,))
    try:
        r = c.rpc("InitFaceVerify", params(tenant, "blocked-1")).json()
        assert r["Code"] == "412" and "ID_PRO" in r["Message"], r
    finally:
        db.execute("DELETE FROM metering_blocked WHERE tenant_id = %s", (tenant.id,))
    r = c.rpc("InitFaceVerify", params(tenant, "blocked-1")).json()
    assert r["Code"] == "200", r


@pytest.mark.parametrize("product", ["ID_PRO", "PV_FV"])
def test_concurrent_duplicates_create_one_verification(world, product):
    env, tenant, other, a, b, db = world
    order = f"race-{product}-{time.time_ns()}"
    if product == "PV_FV":
        p = params(tenant, order, SceneId=str(tenant.scenes["PV_FV"]), ProductCode="PV_FV",
                   CertifyUrlType=None,
                   FaceContrastPicture=base64.b64encode(make_png(200, 200)).decode())
    else:
        p = params(tenant, order)
    outbox_before = seq(db, "outbox_id_seq")
    clients = [Client(x, *tenant.key) for x in (a.addr, b.addr)]
    hows = ["rpc-post", "rpc-get", "acs3"] if product == "ID_PRO" else ["rpc-post", "acs3"]
    jobs = [(clients[i % 2], hows[i % len(hows)]) for i in range(20)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as ex:
        results = list(ex.map(lambda j: call(j[0], p, j[1]), jobs))
    codes = [r.json()["Code"] for r in results]
    assert codes == ["200"] * 20, [r.body[:200] for r in results]
    ids = {r.json()["ResultObject"]["CertifyId"] for r in results}
    assert len(ids) == 1
    urls = {r.json()["ResultObject"].get("CertifyUrl") for r in results}
    assert len(urls) == 1
    if product == "ID_PRO":
        assert next(iter(urls)).startswith("https://verify.example.test/h5/")
    (certify_id,) = ids
    assert db.execute("SELECT count(*) FROM verifications WHERE outer_order_no = %s",
                      (order,)).fetchone()[0] == 1
    photos = db.execute("SELECT count(*) FROM photos p JOIN verifications v ON "
                        "v.id = p.verification_id WHERE v.certify_id = %s",
                        (certify_id,)).fetchone()[0]
    assert photos == (1 if product == "PV_FV" else 0)
    sessions = db.execute("SELECT count(*) FROM h5_sessions WHERE certify_id = %s",
                          (certify_id,)).fetchone()[0]
    assert sessions == (1 if product == "ID_PRO" else 0)
    # One usage event, plus a VerifyRequested for the authority-photo product: nothing from
    # the 19 duplicates.
    assert seq(db, "outbox_id_seq") - outbox_before == (2 if product == "ID_PRO" else 1)
