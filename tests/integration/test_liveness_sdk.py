"""The official Node.js SDK (@alicloud/cloudauth20190307, ACS3 and v2 signatures, its default
3 s timeout) calling ContrastFaceVerify, LivenessFaceVerify and CompareFaceVerify against
shiren-intake and shiren-liveness on a fresh migrated database (tests/sdk/liveness.test.js):
the same person under transforms of one registry photo, different people, no face, several
faces, truncated/corrupt/non-image bytes, and the business Codes of bad input."""
import os
import subprocess

import pytest

from conftest import ROOT
from intake_harness import Intake, Tenant, id_card_number, make_png
from liveness_harness import (Liveness, corrupt_jpeg, establish_reference, registry_image,
                              xform)
from test_intake_sdk import npm_ci

SDK_DIR = ROOT / "tests" / "sdk"


def write_images(bins, d):
    astro, hopper = registry_image("astronaut"), registry_image("hopper")
    files = {
        "astro.png": astro.read_bytes(),
        "astro_q40.jpg": xform(bins, astro, scale=1.0, quality=40),
        "astro_dark.jpg": xform(bins, astro, bright=0.8, quality=85),
        "astro_big.jpg": xform(bins, astro, scale=1.5, quality=85),
        "hopper.jpg": hopper.read_bytes(),
        "messi.jpg": registry_image("messi").read_bytes(),
        "noface.png": make_png(320, 240),
        "group.jpg": xform(bins, astro, scale=0.6, tile=2),
        "truncated.png": astro.read_bytes()[:300_000],
        "corrupt.jpg": corrupt_jpeg(hopper.read_bytes()),
        "notimage.bin": b"%PDF-1.4\n" + bytes(range(256)) * 8,
        "big.bin": b"\xff\xd8\xff\xe0" + os.urandom(1100 * 1024),
    }
    for name, data in files.items():
        (d / name).write_bytes(data)


def test_official_sdk_sync_actions(bins, migrated_env, tmp_path):
    npm_ci()
    env = migrated_env
    tenant = Tenant(bins, env, scenes=(("ID_MIN", "FRONT_CAMERA_LIVENESS"),
                                       ("LR_FR_MIN", "FRONT_CAMERA_LIVENESS"),
                                       ("PV_FC", "FRONT_CAMERA_LIVENESS"),
                                       ("PV_FV", "LIVENESS")))
    intake = Intake(bins, env, SHIREN_INTAKE_THROTTLE_QPS=0)
    live = Liveness(bins, env, SHIREN_LIVENESS_WORKERS=2)
    try:
        write_images(bins, tmp_path)
        cert_no = id_card_number(seq="417")
        establish_reference(env, tenant, intake, "张三", cert_no,
                            registry_image("astronaut").read_bytes())
        node_env = dict(os.environ)
        node_env.update({
            "SHIREN_SDK_ENDPOINT": intake.addr,
            "SHIREN_SDK_AK": tenant.key[0],
            "SHIREN_SDK_SECRET": tenant.key[1],
            "SHIREN_SDK_SCENE_ID_MIN": str(tenant.scenes["ID_MIN"]),
            "SHIREN_SDK_SCENE_LR_FR_MIN": str(tenant.scenes["LR_FR_MIN"]),
            "SHIREN_SDK_SCENE_PV_FC": str(tenant.scenes["PV_FC"]),
            "SHIREN_SDK_CERT_NAME": "张三",
            "SHIREN_SDK_CERT_NO": cert_no,
            "SHIREN_SDK_IMAGE_DIR": str(tmp_path),
        })
        p = subprocess.run(["node", "--test", "liveness.test.js"], cwd=SDK_DIR, env=node_env,
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, (f"node --test failed:\n{p.stdout[-8000:]}\n{p.stderr}\n"
                                   f"{intake.logs()[-4000:]}\n{live.logs()[-4000:]}")
        assert "# fail 0" in p.stdout
        summary = [l for l in p.stdout.splitlines() if l.startswith(("# tests", "# pass"))]
        print("node --test:", ", ".join(summary))
        assert int(summary[1].split()[-1]) >= 14, p.stdout
        # every synchronous answer was logged with its CertifyId, well inside the SDK's 3 s
        lines = [l for l in intake.log_lines() if l.get("msg") == "request" and
                 l["action"] in ("CompareFaceVerify", "LivenessFaceVerify", "ContrastFaceVerify")]
        assert lines and all(l["latency_ms"] < 2500 for l in lines), max(
            l["latency_ms"] for l in lines)
        assert all(len(l["certify_id"]) == 32 for l in lines if l["code"] == "200")
    finally:
        assert live.stop() == 0
        assert intake.stop() == 0
