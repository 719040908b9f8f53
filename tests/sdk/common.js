'use strict';
// Shared set-up of the SDK compatibility tests: the clients, pointed at the intake that
// tests/integration/test_intake_sdk.py started, and what that driver prepared (env below).
const crypto = require('node:crypto');
const fs = require('node:fs');
const Cloudauth = require('@alicloud/cloudauth20190307');
const { $OpenApiUtil } = require('@alicloud/openapi-core');
const RPCClient = require('@alicloud/pop-core');

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through tests/integration/test_intake_sdk.py`);
  return v;
}

const env = {
  endpoint: need('SHIREN_SDK_ENDPOINT'),            // host:port of intake
  throttled: need('SHIREN_SDK_THROTTLED_ENDPOINT'), // a second intake, 1 request/s per tenant
  ak: need('SHIREN_SDK_AK'),
  secret: need('SHIREN_SDK_SECRET'),
  disabledAk: need('SHIREN_SDK_DISABLED_AK'),
  disabledSecret: need('SHIREN_SDK_DISABLED_SECRET'),
  sceneIdPro: Number(need('SHIREN_SDK_SCENE_ID_PRO')),
  scenePvFv: Number(need('SHIREN_SDK_SCENE_PV_FV')),
  doneCertifyId: need('SHIREN_SDK_DONE_CERTIFY_ID'), // completed: Passed T, with a photo
  doneScene: Number(need('SHIREN_SDK_DONE_SCENE')),
  photo: fs.readFileSync(need('SHIREN_SDK_PHOTO_FILE')),
};

// cloudauth20190307: 'acs3' = default Config (ACS3-HMAC-SHA256), 'v2' = RPC HMAC-SHA1.
function cloudauth(mode, opts = {}) {
  const cfg = {
    accessKeyId: opts.ak || env.ak,
    accessKeySecret: opts.secret || env.secret,
    endpoint: opts.endpoint || env.endpoint,
    protocol: 'http',
  };
  if (mode === 'v2') cfg.signatureAlgorithm = 'v2';
  if (opts.securityToken) cfg.securityToken = opts.securityToken;
  return new Cloudauth.default(new $OpenApiUtil.Config(cfg));
}

// pop-core: GET (its default) or POST (everything in the form body).
function popcore(opts = {}) {
  return new RPCClient({
    accessKeyId: opts.ak || env.ak,
    accessKeySecret: opts.secret || env.secret,
    endpoint: `http://${opts.endpoint || env.endpoint}`,
    apiVersion: '2019-03-07',
  });
}

// Today in the service's statistics time zone (SHIREN_INTAKE_STATS_TZ, Asia/Shanghai: UTC+8,
// no daylight saving), as DescribePageFaceVerifyData counts days.
function statsToday() {
  return new Date(Date.now() + 8 * 3600000).toISOString().slice(0, 10);
}

function orderNo() {
  return crypto.randomBytes(16).toString('hex');
}

// An ID card number with a valid GB 11643 check character, born 1990-01-01.
function idCardNumber() {
  const body = '33010319900101' + String(crypto.randomInt(100, 999));
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(body[i]) * w[i];
  return body + '10X98765432'[sum % 11];
}

const META = JSON.stringify({ zimVer: '3.0.0', appVersion: '1', deviceType: 'ios',
                              apdidToken: '', deviceModel: 'iPhone9,1' });

function initParams(extra = {}) {
  return Object.assign({
    SceneId: env.sceneIdPro,
    OuterOrderNo: orderNo(),
    ProductCode: 'ID_PRO',
    Model: 'LIVENESS',
    CertType: 'IDENTITY_CARD',
    CertName: '张三',
    CertNo: idCardNumber(),
    MetaInfo: META,
    CertifyUrlType: 'WEB',
    ReturnUrl: 'https://www.example.com/return?a=1&b=(x)*!~',
    UserId: 'u 1+2',
  }, extra);
}

// The cloudauth SDK's request models take camelCase fields.
function camel(params) {
  const out = {};
  for (const [k, v] of Object.entries(params)) out[k[0].toLowerCase() + k.slice(1)] = v;
  return out;
}

module.exports = { env, statsToday, cloudauth, popcore, orderNo, idCardNumber, initParams, camel, Cloudauth };
