'use strict';
// @alicloud/cloudauth20190307 against shiren-intake, in its default mode (ACS3-HMAC-SHA256)
// and with signatureAlgorithm 'v2' (RPC HMAC-SHA1): every implemented action, the parsed
// results, and errors surfacing as the SDK's own exceptions with the right code.
const test = require('node:test');
const assert = require('node:assert/strict');
const { $OpenApiUtil } = require('@alicloud/openapi-core');
const { env, statsToday, cloudauth, initParams, camel, Cloudauth } = require('./common');

const HEX32 = /^[0-9a-f]{32}$/;

for (const mode of ['acs3', 'v2']) {
  test(`cloudauth ${mode}`, async (t) => {
    const client = cloudauth(mode);
    let certifyId;
    const params = initParams();

    await t.test('InitFaceVerify returns a CertifyId and a CertifyUrl', async () => {
      const r = await client.initFaceVerify(new Cloudauth.InitFaceVerifyRequest(camel(params)));
      assert.equal(r.statusCode, 200);
      assert.equal(r.body.code, '200');
      assert.equal(r.body.message, 'success');
      assert.match(r.body.requestId, /^[0-9A-F-]{36}$/);
      assert.match(r.body.resultObject.certifyId, HEX32);
      assert.match(r.body.resultObject.certifyUrl, /^http:\/\/.+\/h5\/[A-Za-z0-9_-]{43}$/);
      certifyId = r.body.resultObject.certifyId;
    });

    await t.test('a retry with the same OuterOrderNo returns the same CertifyId', async () => {
      const r = await client.initFaceVerify(new Cloudauth.InitFaceVerifyRequest(camel(params)));
      assert.equal(r.body.code, '200');
      assert.equal(r.body.resultObject.certifyId, certifyId);
    });

    await t.test('the same OuterOrderNo with other parameters is refused', async () => {
      const other = Object.assign({}, params, { CertName: '李四' });
      const r = await client.initFaceVerify(new Cloudauth.InitFaceVerifyRequest(camel(other)));
      assert.equal(r.statusCode, 200);
      assert.equal(r.body.code, '401');
      assert.match(r.body.message, /already used/);
    });

    await t.test('a bad CertNo is a business error (HTTP 200, Code 401)', async () => {
      const bad = initParams({ CertNo: '330103199001011234' });
      const r = await client.initFaceVerify(new Cloudauth.InitFaceVerifyRequest(camel(bad)));
      assert.equal(r.statusCode, 200);
      assert.equal(r.body.code, '401');
      assert.match(r.body.message, /CertNo/);
    });

    await t.test('DescribeFaceVerify before a result: Code 424', async () => {
      const r = await client.describeFaceVerify(new Cloudauth.DescribeFaceVerifyRequest({
        sceneId: env.sceneIdPro, certifyId }));
      assert.equal(r.body.code, '424');
      assert.equal(r.body.resultObject, undefined);
    });

    await t.test('DescribeFaceVerify with a result: Passed, SubCode, MaterialInfo string',
      async () => {
        const r = await client.describeFaceVerify(new Cloudauth.DescribeFaceVerifyRequest({
          sceneId: env.doneScene, certifyId: env.doneCertifyId, pictureReturnType: 'BASE64' }));
        assert.equal(r.body.code, '200');
        const o = r.body.resultObject;
        assert.equal(o.passed, 'T');
        assert.equal(o.subCode, '200');
        assert.equal(o.deviceToken, 'sdk-device-token');
        assert.equal(typeof o.materialInfo, 'string');
        const m = JSON.parse(o.materialInfo);
        assert.equal(m.faceAttack, 'F');
        assert.equal(m.facialPictureFront.verifyScore, 91.25);
        assert.equal(m.facialPictureFront.qualityScore, 88.5);
        assert.equal(m.facialPictureFront.faceAttackScore, 0.03);
        assert.deepEqual(Buffer.from(m.facialPictureFront.pictureBase64, 'base64'), env.photo);
      });

    await t.test('DescribeFaceVerify with PictureReturnType URL leaves the photo out',
      async () => {
        const r = await client.describeFaceVerify(new Cloudauth.DescribeFaceVerifyRequest({
          sceneId: env.doneScene, certifyId: env.doneCertifyId, pictureReturnType: 'URL' }));
        const m = JSON.parse(r.body.resultObject.materialInfo);
        assert.equal(m.facialPictureFront.pictureBase64, undefined);
      });

    await t.test('DescribeFaceVerify of an unknown CertifyId: Code 406', async () => {
      const r = await client.describeFaceVerify(new Cloudauth.DescribeFaceVerifyRequest({
        sceneId: env.sceneIdPro, certifyId: 'f'.repeat(32) }));
      assert.equal(r.body.code, '406');
    });

    await t.test('DeleteFaceVerifyResult: after query required, then deleted, then repeated',
      async () => {
        const req = (after) => new Cloudauth.DeleteFaceVerifyResultRequest({
          certifyId, deleteAfterQuery: after });
        let r = await client.deleteFaceVerifyResult(req('Y'));
        assert.equal(r.body.code, '200');
        assert.equal(r.body.resultObject.deleteResult, 'N');
        assert.equal(r.body.resultObject.failReason, 'NEED_QUERY_VERIFY_RESULT');
        r = await client.deleteFaceVerifyResult(req('N'));
        assert.equal(r.body.resultObject.certifyId, certifyId);
        assert.equal(r.body.resultObject.deleteResult, 'Y');
        r = await client.deleteFaceVerifyResult(req('N'));
        assert.equal(r.body.resultObject.deleteResult, 'N');
        assert.equal(r.body.resultObject.failReason, 'NOT_DELETE_REPEATEDLY');
      });

    await t.test('DescribePageFaceVerifyData counts per day, scene and product', async () => {
      const today = statsToday();
      const day = (d) => new Date(Date.parse(today) + d * 86400000).toISOString().slice(0, 10);
      const r = await client.describePageFaceVerifyData(
        new Cloudauth.DescribePageFaceVerifyDataRequest({
          startDate: day(-1), endDate: day(1), sceneId: env.sceneIdPro, productCode: 'ID_PRO',
          currentPage: 1, pageSize: 10 }));
      assert.equal(r.body.code, '200');
      assert.equal(r.body.success, 'true');
      assert.equal(r.body.currentPage, '1');
      assert.equal(r.body.pageSize, '10');
      assert.ok(Number(r.body.totalCount) >= 1);
      const item = r.body.items[r.body.items.length - 1];
      assert.equal(item.sceneId, String(env.sceneIdPro));
      assert.equal(item.productCode, 'ID_PRO');
      assert.equal(item.sceneName, 'sdk-id-pro');
      assert.match(item.date, /^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$/);
      assert.ok(Number(item.totalCount) >= 1);
      assert.equal(item.successCount, '0');
    });

    await t.test('a wrong secret: ClientError SignatureDoesNotMatch (400)', async () => {
      const bad = cloudauth(mode, { secret: 'x'.repeat(30) });
      await assert.rejects(
        bad.describeFaceVerify(new Cloudauth.DescribeFaceVerifyRequest({
          sceneId: env.sceneIdPro, certifyId })),
        (e) => {
          assert.equal(e.name, 'ClientError');
          assert.equal(e.code, 'SignatureDoesNotMatch');
          assert.equal(e.statusCode, 400);
          assert.match(e.data.Message, mode === 'v2' ? /server string to sign is:POST&%2F&/
                                                     : /StringToSign is \[ACS3-HMAC-SHA256\n/);
          return true;
        });
    });

    await t.test('an unknown AccessKeyId: InvalidAccessKeyId.NotFound (404)', async () => {
      const bad = cloudauth(mode, { ak: 'LTAI' + 'A'.repeat(20) });
      await assert.rejects(
        bad.describeFaceVerify(new Cloudauth.DescribeFaceVerifyRequest({
          sceneId: env.sceneIdPro, certifyId })),
        (e) => e.name === 'ClientError' && e.code === 'InvalidAccessKeyId.NotFound' &&
               e.statusCode === 404);
    });

    await t.test('a disabled AccessKey: InvalidAccessKeyId.Inactive (400)', async () => {
      const bad = cloudauth(mode, { ak: env.disabledAk, secret: env.disabledSecret });
      await assert.rejects(
        bad.describeFaceVerify(new Cloudauth.DescribeFaceVerifyRequest({
          sceneId: env.sceneIdPro, certifyId })),
        (e) => e.code === 'InvalidAccessKeyId.Inactive' && e.statusCode === 400);
    });

    await t.test('an STS token: InvalidSecurityToken.Malformed', async () => {
      const sts = cloudauth(mode, { securityToken: 'CAIS-test-sts-token' });
      await assert.rejects(
        sts.describeFaceVerify(new Cloudauth.DescribeFaceVerifyRequest({
          sceneId: env.sceneIdPro, certifyId })),
        (e) => e.code === 'InvalidSecurityToken.Malformed' && e.statusCode === 400 &&
               /AccessKey pairs only/.test(e.message));
    });

    await t.test('over the tenant rate: ThrottlingError Throttling.User', async () => {
      const slow = cloudauth(mode, { endpoint: env.throttled });
      const calls = [];
      for (let i = 0; i < 4; i++) {
        calls.push(slow.describeFaceVerify(new Cloudauth.DescribeFaceVerifyRequest({
          sceneId: env.sceneIdPro, certifyId: 'f'.repeat(32) })).then(() => null, (e) => e));
      }
      const errs = (await Promise.all(calls)).filter((e) => e);
      assert.ok(errs.length >= 1, 'at least one call is throttled');
      for (const e of errs) {
        assert.equal(e.name, 'ThrottlingError');
        assert.equal(e.code, 'Throttling.User');
        assert.equal(e.statusCode, 400);
        assert.ok(e.retryAfter > 0 && e.retryAfter <= 1000, `retryAfter ${e.retryAfter}`);
      }
    });
  });
}

test('cloudauth ACS3-HMAC-SM3', async () => {
  const sm3 = new Cloudauth.default(new $OpenApiUtil.Config({
    accessKeyId: env.ak, accessKeySecret: env.secret, endpoint: env.endpoint, protocol: 'http',
    signatureAlgorithm: 'ACS3-HMAC-SM3' }));
  const p = initParams();
  const r = await sm3.initFaceVerify(new Cloudauth.InitFaceVerifyRequest(camel(p)));
  assert.equal(r.body.code, '200');
  const d = await sm3.describeFaceVerify(new Cloudauth.DescribeFaceVerifyRequest({
    sceneId: env.doneScene, certifyId: env.doneCertifyId }));
  assert.equal(d.body.resultObject.passed, 'T');
  const bad = new Cloudauth.default(new $OpenApiUtil.Config({
    accessKeyId: env.ak, accessKeySecret: 'z'.repeat(30), endpoint: env.endpoint,
    protocol: 'http', signatureAlgorithm: 'ACS3-HMAC-SM3' }));
  await assert.rejects(bad.describeFaceVerify(new Cloudauth.DescribeFaceVerifyRequest({
    sceneId: env.doneScene, certifyId: env.doneCertifyId })),
  (e) => e.code === 'SignatureDoesNotMatch' && /StringToSign is \[ACS3-HMAC-SM3\n/.test(e.message));
});
