'use strict';
// @alicloud/cloudauth20190307 calling the synchronous actions (ContrastFaceVerify,
// LivenessFaceVerify, CompareFaceVerify) against shiren-intake + shiren-liveness, in the SDK's
// default mode (ACS3-HMAC-SHA256, 3 s read timeout) and in 'v2' (RPC HMAC-SHA1) mode. Driven by
// tests/integration/test_liveness_sdk.py, which starts the services and prepares the images
// and a reference on record (env below).
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const Cloudauth = require('@alicloud/cloudauth20190307');
const { $OpenApiUtil } = require('@alicloud/openapi-core');

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through tests/integration/test_liveness_sdk.py`);
  return v;
}

const env = {
  endpoint: need('SHIREN_SDK_ENDPOINT'),
  ak: need('SHIREN_SDK_AK'),
  secret: need('SHIREN_SDK_SECRET'),
  sceneContrast: Number(need('SHIREN_SDK_SCENE_ID_MIN')),
  sceneLiveness: Number(need('SHIREN_SDK_SCENE_LR_FR_MIN')),
  sceneCompare: Number(need('SHIREN_SDK_SCENE_PV_FC')),
  certName: need('SHIREN_SDK_CERT_NAME'),
  certNo: need('SHIREN_SDK_CERT_NO'), // has a reference on record (the astronaut)
  images: need('SHIREN_SDK_IMAGE_DIR'),
};

function img(name) {
  return fs.readFileSync(path.join(env.images, name)).toString('base64');
}

function client(mode) {
  const cfg = { accessKeyId: env.ak, accessKeySecret: env.secret, endpoint: env.endpoint,
                protocol: 'http' };
  if (mode === 'v2') cfg.signatureAlgorithm = 'v2';
  return new Cloudauth.default(new $OpenApiUtil.Config(cfg));
}

const orderNo = () => crypto.randomBytes(12).toString('hex');

async function compare(c, source, target) {
  const t0 = Date.now();
  const r = await c.compareFaceVerify(new Cloudauth.CompareFaceVerifyRequest({
    sceneId: env.sceneCompare, outerOrderNo: orderNo(), productCode: 'PV_FC',
    sourceFaceContrastPicture: img(source), targetFaceContrastPicture: img(target) }));
  r.ms = Date.now() - t0;
  return r;
}

for (const mode of ['acs3', 'v2']) {
  test(`synchronous actions, cloudauth ${mode}`, async (t) => {
    const c = client(mode);

    await t.test('CompareFaceVerify: the same person under transforms passes', async () => {
      for (const other of ['astro_q40.jpg', 'astro_dark.jpg', 'astro_big.jpg']) {
        const r = await compare(c, 'astro.png', other);
        assert.equal(r.statusCode, 200);
        assert.equal(r.body.code, '200', JSON.stringify(r.body));
        assert.equal(r.body.message, 'success');
        assert.match(r.body.resultObject.certifyId, /^[0-9a-f]{32}$/);
        assert.equal(r.body.resultObject.passed, 'T', other);
        assert.equal(typeof r.body.resultObject.verifyScore, 'number');
        assert.ok(r.body.resultObject.verifyScore > 70, `${other}: ${r.body.resultObject.verifyScore}`);
        assert.ok(r.ms < 2500, `answered in ${r.ms} ms`);
      }
    });

    await t.test('CompareFaceVerify: different people do not', async () => {
      for (const [a, b] of [['astro.png', 'hopper.jpg'], ['hopper.jpg', 'messi.jpg']]) {
        const r = await compare(c, a, b);
        assert.equal(r.body.code, '200');
        assert.equal(r.body.resultObject.passed, 'F', `${a} ${b}`);
        assert.ok(r.body.resultObject.verifyScore < 50, `${a} ${b}`);
      }
    });

    await t.test('CompareFaceVerify: no face, several faces, corrupt bytes: Code 419', async () => {
      for (const [name, text] of [['noface.png', /No face/], ['group.jpg', /faces of similar size/],
                                  ['truncated.png', /truncated/], ['corrupt.jpg', /corrupt|truncated/],
                                  ['notimage.bin', /not a JPEG or PNG/]]) {
        const r = await compare(c, 'hopper.jpg', name);
        assert.equal(r.statusCode, 200);
        assert.equal(r.body.code, '419', `${name}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.message, text);
      }
    });

    await t.test('LivenessFaceVerify: a face photo, and one without a face', async () => {
      let r = await c.livenessFaceVerify(new Cloudauth.LivenessFaceVerifyRequest({
        sceneId: env.sceneLiveness, outerOrderNo: orderNo(), productCode: 'LR_FR_MIN',
        model: 'FRONT_CAMERA_LIVENESS', faceContrastPicture: img('hopper.jpg') }));
      assert.equal(r.body.code, '200', JSON.stringify(r.body));
      const o = r.body.resultObject;
      assert.match(o.certifyId, /^[0-9a-f]{32}$/);
      assert.ok(['200', '205'].includes(o.subCode), o.subCode); // silent: low assurance
      assert.equal(o.passed, o.subCode === '200' ? 'T' : 'F');
      assert.equal(typeof o.materialInfo, 'string');
      const m = JSON.parse(o.materialInfo);
      assert.equal(typeof m.facialPictureFront.qualityScore, 'number');
      r = await c.livenessFaceVerify(new Cloudauth.LivenessFaceVerifyRequest({
        sceneId: env.sceneLiveness, outerOrderNo: orderNo(), productCode: 'LR_FR_MIN',
        faceContrastPicture: img('noface.png') }));
      assert.equal(r.body.code, '419');
    });

    await t.test('ContrastFaceVerify: against the reference on record', async () => {
      const call = async (picture, model) => c.contrastFaceVerify(
        new Cloudauth.ContrastFaceVerifyRequest({
          sceneId: env.sceneContrast, outerOrderNo: orderNo(), productCode: 'ID_MIN',
          model, certType: 'IDENTITY_CARD', certName: env.certName, certNo: env.certNo,
          faceContrastPicture: img(picture) }));
      let r = await call('astro_q40.jpg', 'NO_LIVENESS');
      assert.equal(r.body.code, '200', JSON.stringify(r.body));
      assert.equal(r.body.resultObject.passed, 'T');
      assert.equal(r.body.resultObject.subCode, '200');
      const m = JSON.parse(r.body.resultObject.materialInfo);
      assert.ok(m.facialPictureFront.verifyScore > 70);
      r = await call('hopper.jpg', 'NO_LIVENESS');
      assert.equal(r.body.resultObject.passed, 'F');
      assert.equal(r.body.resultObject.subCode, '204');
      r = await call('astro.png', 'FRONT_CAMERA_LIVENESS');
      assert.equal(r.body.code, '200');
      assert.ok(['200', '204', '205'].includes(r.body.resultObject.subCode));
    });

    await t.test('bad input is a business Code, not an exception', async () => {
      let r = await c.compareFaceVerify(new Cloudauth.CompareFaceVerifyRequest({
        sceneId: env.sceneCompare, outerOrderNo: orderNo(), productCode: 'PV_FC',
        sourceFaceContrastPicture: img('astro.png'), sourceCertifyId: 'a'.repeat(32),
        targetFaceContrastPicture: img('hopper.jpg') }));
      assert.equal(r.body.code, '420');
      r = await c.livenessFaceVerify(new Cloudauth.LivenessFaceVerifyRequest({
        sceneId: env.sceneLiveness, outerOrderNo: orderNo(), productCode: 'LR_FR_MIN',
        ossBucketName: 'b', ossObjectName: 'k.jpg' }));
      assert.equal(r.body.code, '410');
      r = await c.livenessFaceVerify(new Cloudauth.LivenessFaceVerifyRequest({
        sceneId: env.sceneLiveness, outerOrderNo: orderNo(), productCode: 'LR_FR_MIN',
        faceContrastPicture: img('big.bin') }));
      assert.equal(r.body.code, '421');
    });
  });
}
