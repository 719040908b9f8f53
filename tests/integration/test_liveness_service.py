"""shiren-liveness on its own: jobs published on shiren.liveness.jobs.v1 (as intake and upstream
publish them) against photos that intake stored (sealed under the master key), results in
liveness_results with their VerifyCompleted and UsageEvent, exactly once however the job is
delivered, and across a kill -9 in the middle of a job. Start-up refuses a missing model with
exit 78 naming the file."""
import base64
import json
import subprocess
import time
import uuid

import psycopg
import pytest

from acs_sign import Client
from conftest import run
from intake_harness import Intake, Tenant, id_card_number, publish, wait_for
from liveness_harness import (TOPIC_JOBS, Liveness, completions, liveness_bin, liveness_job,
                              registry_image, usage_events, xform)


@pytest.fixture
def svc(bins, migrated_env):
    tenant = Tenant(bins, migrated_env, scenes=(("PV_FV", "MOVE_ACTION"),))
    intake = Intake(bins, migrated_env)
    live = Liveness(bins, migrated_env, SHIREN_LIVENESS_WORKERS=2)
    yield migrated_env, tenant, intake, live
    assert live.stop() == 0
    assert intake.stop() == 0


def stored_photo(env, tenant, intake, image):
    """A PV_FV InitFaceVerify with `image` as reference: (certify_id, photo id)."""
    c = Client(intake.addr, *tenant.key)
    r = c.rpc("InitFaceVerify", {
        "SceneId": str(tenant.scenes["PV_FV"]), "OuterOrderNo": uuid.uuid4().hex[:20],
        "ProductCode": "PV_FV", "MetaInfo": '{"zimVer":"3.0.0"}', "UserId": "u1",
        "CertName": "张三", "CertNo": id_card_number(),
        "FaceContrastPicture": base64.b64encode(image).decode()})
    assert r.status == 200 and r.json()["Code"] == "200", (r.text, intake.logs()[-3000:])
    cid = r.json()["ResultObject"]["CertifyId"]
    with psycopg.connect(env["SHIREN_PG_DSN"]) as db:
        pid = db.execute("SELECT ref_photo_id FROM verifications WHERE certify_id = %s",
                         (cid,)).fetchone()[0]
    return cid, pid


def result_rows(env, certify_id):
    with psycopg.connect(env["SHIREN_PG_DSN"]) as db:
        return db.execute(
            "SELECT code, passed, sub_code, billable, verify_score, outcome, attempts, detail, message "
            "FROM liveness_results WHERE certify_id = %s", (certify_id,)).fetchall()


def wait_result(env, certify_id, timeout=60):
    return wait_for(lambda: result_rows(env, certify_id), timeout=timeout,
                    what=f"the result of {certify_id}")[0]


def test_compare_jobs_exactly_once(bins, svc):
    env, tenant, intake, live = svc
    brokers = env["SHIREN_KAFKA_BROKERS"]
    astro = registry_image("astronaut").read_bytes()
    a_id, a_photo = stored_photo(env, tenant, intake, astro)
    b_id, b_photo = stored_photo(env, tenant, intake, xform(bins, registry_image("astronaut"),
                                                             scale=0.9, quality=40))
    h_id, h_photo = stored_photo(env, tenant, intake,
                                 registry_image("hopper").read_bytes())
    scene = tenant.scenes["PV_FV"]
    same = liveness_job(a_id, tenant.id, "CompareFaceVerify", "PV_FC", scene,
                        [(a_photo, "reference", 0), (b_photo, "face", 0)])
    other = liveness_job(h_id, tenant.id, "CompareFaceVerify", "PV_FC", scene,
                         [(a_photo, "reference", 0), (h_photo, "face", 0)])
    # Delivered twice (a relay re-publishing it), and a second message for the same
    # CertifyId and action (a producer retrying with a new message id).
    publish(brokers, TOPIC_JOBS, a_id, same)
    publish(brokers, TOPIC_JOBS, a_id, same)
    publish(brokers, TOPIC_JOBS, a_id, liveness_job(a_id, tenant.id, "CompareFaceVerify",
                                                    "PV_FC", scene,
                                                    [(a_photo, "reference", 0),
                                                     (b_photo, "face", 0)]))
    publish(brokers, TOPIC_JOBS, h_id, other)

    code, passed, sub, billable, score, outcome, attempts, detail, _ = wait_result(env, a_id)
    assert (code, passed, sub, billable, outcome) == ("200", True, 200, True, "decided")
    assert score > 70, detail
    code, passed, sub, billable, score, outcome, attempts, detail, _ = wait_result(env, h_id)
    assert (code, passed, sub, billable) == ("200", False, 204, True)
    assert score < 50, detail
    assert detail["why"] == "different_person" and detail["distance"] > 0.6

    time.sleep(3)  # every copy delivered by now
    assert len(result_rows(env, a_id)) == 1
    comp = wait_for(lambda: (lambda l: l if {x["certify_id"] for x in l} == {a_id, h_id}
                             else None)(completions(brokers, {a_id, h_id})),
                    what="the completions on Kafka")
    by_id = {}
    for c in comp:
        by_id.setdefault(c["certify_id"], set()).add(c["message_id"])
    assert {k: len(v) for k, v in by_id.items()} == {a_id: 1, h_id: 1}
    c = [x for x in comp if x["certify_id"] == a_id][0]
    assert c["action"] == "CompareFaceVerify" and c["passed"] and c["sub_code"] == 200
    assert c["code"] == "200" and c["billable"] and c["verify_score"] > 70
    use = wait_for(lambda: [u for u in usage_events(brokers, {a_id, h_id})
                            if u["action"] == "CompareFaceVerify"], what="usage events")
    ev = {}
    for u in use:
        ev.setdefault(u["event_id"], set()).add(u["message_id"])
    assert {k: len(v) for k, v in ev.items()} == {f"{a_id}:CompareFaceVerify": 1,
                                                  f"{h_id}:CompareFaceVerify": 1}
    assert all(u["billable"] and u["quantity"] == 1 for u in use)
    # intake applied the completion to the verification (its own consumer).
    with psycopg.connect(env["SHIREN_PG_DSN"]) as db:
        wait_for(lambda: db.execute("SELECT status FROM verifications WHERE certify_id = %s",
                                    (a_id,)).fetchone()[0] == "completed",
                 what="intake to apply the completion")
    m = live.metrics()
    assert "shiren_liveness_jobs_done_total 2" in m, m


def test_unusable_and_missing_inputs(bins, svc):
    """Images that do not decode or show no face give Code 419 results, not billable; a photo
    of another tenant is not read."""
    env, tenant, intake, live = svc
    brokers = env["SHIREN_KAFKA_BROKERS"]
    astro = registry_image("astronaut").read_bytes()
    a_id, a_photo = stored_photo(env, tenant, intake, astro)
    cut = astro[: len(astro) // 2]  # header intact, pixel data cut: intake accepts it
    t_id, t_photo = stored_photo(env, tenant, intake, cut)
    tile = xform(bins, registry_image("astronaut"), scale=0.6, tile=2)
    s_id, s_photo = stored_photo(env, tenant, intake, tile)
    scene = tenant.scenes["PV_FV"]
    for cid, photo in ((t_id, t_photo), (s_id, s_photo)):
        publish(brokers, TOPIC_JOBS, cid, liveness_job(
            cid, tenant.id, "LivenessFaceVerify", "LR_FR_MIN", scene, [(photo, "face", 0)],
            scene_model="FRONT_CAMERA_LIVENESS", synchronous=True))
    # a job naming a photo id that does not exist
    publish(brokers, TOPIC_JOBS, a_id, liveness_job(
        a_id, tenant.id, "LivenessFaceVerify", "LR_FR_MIN", scene, [(a_photo + 1000, "face", 0)]))
    r = wait_result(env, t_id)
    assert r[:4] == ("419", False, 0, False) and r[5] == "unusable", r
    assert r[7]["images"][0]["error"] == "truncated"
    r = wait_result(env, s_id)
    assert r[:4] == ("419", False, 0, False) and r[7]["why"] == "several_faces", r
    r = wait_result(env, a_id)
    assert r[:4] == ("419", False, 0, False) and r[7]["why"] == "image_unavailable", r
    use = wait_for(lambda: (lambda l: l if len(l) >= 3 else None)(
        [u for u in usage_events(brokers, {t_id, s_id, a_id})
         if u["action"] == "LivenessFaceVerify"]), what="usage events")
    assert len(use) == 3
    assert not any(u["billable"] for u in use)


def test_deadline_passed_is_a_timeout(bins, svc):
    env, tenant, intake, live = svc
    a_id, a_photo = stored_photo(env, tenant, intake, registry_image("hopper").read_bytes())
    publish(env["SHIREN_KAFKA_BROKERS"], TOPIC_JOBS, a_id, liveness_job(
        a_id, tenant.id, "LivenessFaceVerify", "LR_FR_MIN", tenant.scenes["PV_FV"],
        [(a_photo, "face", 0)], deadline_ms=int(time.time() * 1000) - 1000, synchronous=True))
    r = wait_result(env, a_id)
    assert r[:4] == ("500", False, 0, False) and r[5] == "timeout", r


def test_kill9_mid_job_completes_exactly_once(bins, svc):
    """A sequence of 40 large frames (~0.9 Mpx each) takes a worker seconds: kill -9 the service
    as soon as a worker has claimed it, restart, and the job completes once (one result, one
    VerifyCompleted, one UsageEvent), its second attempt counted."""
    env, tenant, intake, live = svc
    brokers = env["SHIREN_KAFKA_BROKERS"]
    src = registry_image("hopper")
    frames = []
    for i in range(40):
        img = xform(bins, src, scale=1.8 + (i % 5) * 0.02, quality=80 + i % 10)
        frames.append(stored_photo(env, tenant, intake, img))
    cid = frames[0][0]
    challenge = json.dumps({"seed": "ab" * 32, "risk": False})
    job = liveness_job(cid, tenant.id, "FaceCapture", "PV_FV", tenant.scenes["PV_FV"],
                       [(p, "frame", 100 + 66 * i) for i, (_, p) in enumerate(frames)],
                       scene_model="MOVE_ACTION", challenge_json=challenge,
                       deadline_ms=int(time.time() * 1000) + 600_000)
    assert live.stop() == 0
    live = Liveness(bins, env, SHIREN_LIVENESS_WORKERS=1, SHIREN_LOG_LEVEL="debug",
                    SHIREN_LIVENESS_MAX_SEQUENCE_PIXELS="64000000",
                    group=live.env["SHIREN_LIVENESS_CONSUMER_GROUP"])
    try:
        kill_and_restart(env, brokers, live, cid, job)
    finally:
        live.stop()


def kill_and_restart(env, brokers, live, cid, job):
    publish(brokers, TOPIC_JOBS, cid, job)
    wait_for(lambda: any(l.get("msg") == "job claimed" and l.get("certify_id") == cid
                         for l in live.log_lines()), timeout=60, what="the job to be claimed")
    assert not result_rows(env, cid), "the job finished before the kill: make it longer"
    live.kill9()
    with psycopg.connect(env["SHIREN_PG_DSN"]) as db:
        state, attempts = db.execute("SELECT state, attempts FROM liveness_jobs WHERE "
                                     "certify_id = %s", (cid,)).fetchone()
    assert (state, attempts) == ("queued", 1)
    live.start()
    r = wait_result(env, cid, timeout=120)
    assert r[6] == 2, r  # the second claim computed it
    assert r[0] == "200" and r[7]["liveness"]["frames"] == 40, r
    time.sleep(2)
    assert len(result_rows(env, cid)) == 1
    comp = wait_for(lambda: completions(brokers, {cid}), what="the completion")
    assert len({c["message_id"] for c in comp}) == 1
    use = wait_for(lambda: [u for u in usage_events(brokers, {cid})
                            if u["action"] == "FaceCapture"], what="the usage event")
    assert len({u["message_id"] for u in use}) == 1 and use[0]["event_id"] == cid + ":FaceCapture"


def test_missing_model_exits_78(bins, migrated_env, tmp_path):
    env = dict(migrated_env)
    env["SHIREN_LIVENESS_MODEL_DIR"] = str(tmp_path)
    p = run([liveness_bin(bins)], env, check=False, timeout=30)
    assert p.returncode == 78
    line = [json.loads(l) for l in p.stdout.splitlines() if '"bad configuration"' in l][0]
    assert str(tmp_path / "face_detection_short_range.shnn") in line["error"]
    (tmp_path / "face_detection_short_range.shnn").write_bytes(b"not a model")
    for f in ("face_landmark.shnn", "face_geometry.shnn", "face_recognition.shnn"):
        (tmp_path / f).write_bytes(b"x" * 64)
    p = run([liveness_bin(bins)], env, check=False, timeout=30)
    assert p.returncode == 78 and "do not load" in p.stdout


def test_workers_look_past_busy_jobs(bins, svc):
    """A job being computed stays queued and locked until its result is stored; a worker that
    finds a whole page of them (32) must look at the next page. Here 40 synchronous queued
    jobs (which sort first) are held by another session's locks, as 40 busy workers of other
    processes would hold them; a new job must still be taken and done."""
    env, tenant, intake, live = svc
    astro = registry_image("astronaut").read_bytes()
    a_id, a_photo = stored_photo(env, tenant, intake, astro)
    b_id, b_photo = stored_photo(env, tenant, intake, astro)
    holder = psycopg.connect(env["SHIREN_PG_DSN"], autocommit=True)
    try:
        ids = [holder.execute(
            "INSERT INTO liveness_jobs (certify_id, action, tenant_id, message_id, synchronous, "
            "deadline_ms, payload) VALUES (%s, 'CompareFaceVerify', %s, %s, true, %s, '\\x00') "
            "RETURNING id", (uuid.uuid4().hex, tenant.id, str(uuid.uuid4()),
                             int(time.time() * 1000) + 600_000)).fetchone()[0]
            for _ in range(40)]
        for i in ids:  # lsvc_pool.c's keys: (0x4c56 + high 32 bits, low 32 bits)
            assert holder.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                  (0x4C56 + (i >> 32), i & 0x7FFFFFFF)).fetchone()[0]
        job = liveness_job(a_id, tenant.id, "CompareFaceVerify", "PV_FC",
                           tenant.scenes["PV_FV"], [(a_photo, "reference", 0),
                                                    (b_photo, "face", 0)])
        publish(env["SHIREN_KAFKA_BROKERS"], TOPIC_JOBS, a_id, job)
        code, passed, *_ = wait_result(env, a_id, timeout=20)
        assert (code, passed) == ("200", True)
        assert holder.execute("SELECT count(*) FROM liveness_jobs WHERE id = ANY(%s) AND "
                              "state = 'queued' AND attempts = 0", (ids,)).fetchone()[0] == 40
    finally:
        holder.close()
