'use strict';
// @alicloud/pop-core against shiren-intake, GET (its default: everything in the query) and
// POST (everything in the form body). pop-core throws for any Code other than 200/OK/Success,
// business codes included, with err.name = Code + 'Error'.
const test = require('node:test');
const assert = require('node:assert/strict');
const { env, statsToday, popcore, initParams } = require('./common');

const HEX32 = /^[0-9a-f]{32}$/;

for (const method of ['GET', 'POST']) {
  test(`pop-core ${method}`, async (t) => {
    const client = popcore();
    const opts = { method, timeout: 3000 };
    let certifyId;
    const params = initParams({ CertifyUrlType: 'H5', CertifyUrlStyle: 'L' });

    await t.test('InitFaceVerify', async () => {
      const r = await client.request('InitFaceVerify', params, opts);
      assert.equal(r.Code, '200');
      assert.match(r.ResultObject.CertifyId, HEX32);
      certifyId = r.ResultObject.CertifyId;
      assert.ok(r.ResultObject.CertifyUrl.includes(`/h5/verify?certifyId=${certifyId}&token=`));
    });

    await t.test('retry returns the same CertifyId', async () => {
      const r = await client.request('InitFaceVerify', params, opts);
      assert.equal(r.ResultObject.CertifyId, certifyId);
    });

    await t.test('PV_FV with an inline reference photo', async () => {
      const p = initParams({ SceneId: env.scenePvFv, ProductCode: 'PV_FV',
                             FaceContrastPicture: env.photo.toString('base64') });
      delete p.CertifyUrlType;
      const r = await client.request('InitFaceVerify', p, opts);
      assert.equal(r.Code, '200');
      assert.match(r.ResultObject.CertifyId, HEX32);
      assert.equal(r.ResultObject.CertifyUrl, undefined);
    });

    await t.test('DescribeFaceVerify before a result throws 424Error', async () => {
      await assert.rejects(
        client.request('DescribeFaceVerify', { SceneId: env.sceneIdPro, CertifyId: certifyId },
                       opts),
        (e) => e.name === '424Error' && e.code === '424' && e.data.Code === '424');
    });

    await t.test('DescribeFaceVerify with a result', async () => {
      const r = await client.request('DescribeFaceVerify', {
        SceneId: env.doneScene, CertifyId: env.doneCertifyId }, opts);
      assert.equal(r.Code, '200');
      assert.equal(r.ResultObject.Passed, 'T');
      assert.equal(r.ResultObject.SubCode, '200');
      const m = JSON.parse(r.ResultObject.MaterialInfo);
      assert.deepEqual(Buffer.from(m.facialPictureFront.pictureBase64, 'base64'), env.photo);
    });

    await t.test('DeleteFaceVerifyResult', async () => {
      const r = await client.request('DeleteFaceVerifyResult', { CertifyId: certifyId }, opts);
      assert.equal(r.ResultObject.DeleteResult, 'Y');
      assert.equal(r.ResultObject.CertifyId, certifyId);
    });

    await t.test('DescribePageFaceVerifyData', async () => {
      const today = statsToday();
      const r = await client.request('DescribePageFaceVerifyData', {
        StartDate: today, EndDate: today, CurrentPage: 1, PageSize: 50 }, opts);
      assert.equal(r.Code, '200');
      const scenes = new Set(r.Items.map((i) => i.SceneId));
      assert.ok(scenes.has(String(env.sceneIdPro)));
      for (const i of r.Items) assert.equal(typeof i.TotalCount, 'string');
    });

    await t.test('business error: missing SceneId throws 400Error', async () => {
      const p = initParams();
      delete p.SceneId;
      await assert.rejects(client.request('InitFaceVerify', p, opts),
                           (e) => e.name === '400Error' && /SceneId/.test(e.message));
    });

    await t.test('unknown action throws InvalidAction.NotFoundError', async () => {
      await assert.rejects(client.request('Id2MetaVerify', { ParamType: 'normal' }, opts),
                           (e) => e.code === 'InvalidAction.NotFound');
    });

    await t.test('wrong secret throws SignatureDoesNotMatchError with the string to sign',
      async () => {
        const bad = popcore({ secret: 'y'.repeat(30) });
        await assert.rejects(
          bad.request('DescribeFaceVerify', { SceneId: env.sceneIdPro, CertifyId: certifyId },
                      opts),
          (e) => e.name === 'SignatureDoesNotMatchError' &&
                 e.data.Message.includes(`server string to sign is:${method}&%2F&AccessKeyId%3D`));
      });

    await t.test('throttled throws Throttling.UserError', async () => {
      const slow = popcore({ endpoint: env.throttled });
      const calls = [];
      for (let i = 0; i < 4; i++) {
        calls.push(slow.request('DescribeFaceVerify', { SceneId: env.sceneIdPro,
                                                        CertifyId: 'f'.repeat(32) }, opts)
          .then(() => null, (e) => e));
      }
      const codes = (await Promise.all(calls)).map((e) => e && e.code);
      assert.ok(codes.includes('Throttling.User'), JSON.stringify(codes));
    });
  });
}
