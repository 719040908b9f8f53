'use strict';
/*
 * Peer half of tests/bench/liveness_embed.sh.
 *   run: per image, decode (jpeg-js / pngjs, pure JS), cut the same square chip as the C side
 *   (box from faces.tsv, side max(w, h), bilinear to 150x150) and compute the face-api
 *   descriptor on tfjs-wasm.
 *   runPipeline: the whole face-api photo pipeline on the same selfies as
 *   bench_liveness_pipeline: decode, detectSingleFace (SSD MobileNet v1, face-api's default
 *   detector), 68 landmarks, aligned descriptor.
 * Timed per image after one warm-up round; prints the same key=value lines as the C side.
 */
const fs = require('fs');
const jpeg = require('jpeg-js');
const { PNG } = require('pngjs');
const peer = require('./peer.js');

const { tf, faceapi } = peer;

function decode(buf) {
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 512 });
    return { w: img.width, h: img.height, data: img.data };
  }
  const png = PNG.sync.read(buf);
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let i = 0, j = 0; i < png.data.length; i += 4, j += 3) {
    rgb[j] = png.data[i];
    rgb[j + 1] = png.data[i + 1];
    rgb[j + 2] = png.data[i + 2];
  }
  return { w: png.width, h: png.height, data: rgb };
}

function firstBoxes(tsv) {
  const boxes = {};
  for (const line of fs.readFileSync(tsv, 'utf8').split('\n')) {
    if (!line || line[0] === '#')
      continue;
    const [name, idx, x, y, w, h] = line.split('\t');
    if (Number(idx) === 0)
      boxes[name] = [Number(x), Number(y), Number(w), Number(h)];
  }
  return boxes;
}

async function chipDescriptor(img, box) {
  const [x, y, w, h] = box;
  const side = Math.max(w, h);
  const x0 = x + w / 2 - side / 2;
  const y0 = y + h / 2 - side / 2;
  const d = tf.tidy(() => {
    const t = tf.tensor4d(img.data, [1, img.h, img.w, 3], 'float32');
    const b = [[y0 / (img.h - 1), x0 / (img.w - 1), (y0 + side) / (img.h - 1), (x0 + side) / (img.w - 1)]];
    return tf.image.cropAndResize(t, b, [0], [150, 150], 'bilinear').squeeze([0]);
  });
  const desc = await faceapi.computeFaceDescriptor(d);
  d.dispose();
  return desc;
}

function pct(sorted, p) {
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

async function run(modelDir, facesTsv, reps, items) {
  await peer.init(modelDir, ['faceRecognitionNet']);
  const boxes = firstBoxes(facesTsv);
  const total = [];
  const embed = [];
  for (const it of items) {
    const [name, file] = it.split('=');
    if (!boxes[name])
      peer.die(`no face 0 for ${name} in ${facesTsv}`);
    const buf = fs.readFileSync(file);
    const per = [];
    for (let r = 0; r <= reps; r++) {
      const t0 = process.hrtime.bigint();
      const img = decode(buf);
      const t1 = process.hrtime.bigint();
      await chipDescriptor(img, boxes[name]);
      const t2 = process.hrtime.bigint();
      if (r === 0)
        continue; /* warm-up */
      per.push(Number(t2 - t0) / 1e6);
      total.push(Number(t2 - t0) / 1e6);
      embed.push(Number(t2 - t1) / 1e6);
    }
    per.sort((a, b) => a - b);
    console.log(`peer image=${name} p50_ms=${pct(per, 50).toFixed(2)} p99_ms=${pct(per, 99).toFixed(2)}`);
  }
  total.sort((a, b) => a - b);
  embed.sort((a, b) => a - b);
  console.log(`peer backend=${tf.getBackend()} tfjs=${tf.version.tfjs} samples=${total.length}`);
  console.log(`peer_total_p50_ms=${pct(total, 50).toFixed(2)} peer_total_p99_ms=${pct(total, 99).toFixed(2)}`);
  console.log(`peer_embed_p50_ms=${pct(embed, 50).toFixed(2)} peer_embed_p99_ms=${pct(embed, 99).toFixed(2)}`);
}

async function runPipeline(modelDir, reps, items) {
  await peer.init(modelDir, ['ssdMobilenetv1', 'faceLandmark68Net', 'faceRecognitionNet']);
  const opts = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  const total = [];
  const net = [];
  let faces = 0;
  for (const it of items) {
    const [name, file] = it.split('=');
    const buf = fs.readFileSync(file);
    const per = [];
    for (let r = 0; r <= reps; r++) {
      const t0 = process.hrtime.bigint();
      const img = decode(buf);
      const t = tf.tensor3d(img.data, [img.h, img.w, 3], 'int32');
      const t1 = process.hrtime.bigint();
      const res = await faceapi.detectSingleFace(t, opts).withFaceLandmarks().withFaceDescriptor();
      t.dispose();
      const t2 = process.hrtime.bigint();
      if (r === 0) { /* warm-up */
        faces += res ? 1 : 0;
        continue;
      }
      per.push(Number(t2 - t0) / 1e6);
      total.push(Number(t2 - t0) / 1e6);
      net.push(Number(t2 - t1) / 1e6);
    }
    per.sort((a, b) => a - b);
    console.log(`peer image=${name} p50_ms=${pct(per, 50).toFixed(2)} p99_ms=${pct(per, 99).toFixed(2)}`);
  }
  total.sort((a, b) => a - b);
  net.sort((a, b) => a - b);
  const rss = Math.round(process.memoryUsage().rss / 1024);
  console.log(`peer backend=${tf.getBackend()} tfjs=${tf.version.tfjs} samples=${total.length} faces=${faces} rss_kb=${rss}`);
  console.log(`peer_pipe_p50_ms=${pct(total, 50).toFixed(2)} peer_pipe_p99_ms=${pct(total, 99).toFixed(2)}`);
  console.log(`peer_pipe_net_p50_ms=${pct(net, 50).toFixed(2)} peer_pipe_net_p99_ms=${pct(net, 99).toFixed(2)}`);
}

module.exports = { run, runPipeline };
