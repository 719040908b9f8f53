'use strict';
/*
 * Peer for the shiren liveness engine: runs the same face-api weights through TensorFlow.js
 * (wasm backend, all files from node_modules, nothing fetched at run time) so the C port can be
 * compared number for number. Images are exchanged as binary PPM (P6) files that the C side
 * wrote, so both sides see identical pixels.
 *
 *   node peer.js detect   <modeldir> <out.tsv> <name=file.ppm>...   face boxes (SSD + 68 points)
 *   node peer.js describe <modeldir> <out.json> <cropdir>           descriptors of 150x150 crops
 *   node peer.js landmarks <modeldir> <out.tsv> <name=file.ppm>...  68 points per face (SSD boxes)
 *   node peer.js bench    <modeldir> <faces.tsv> <reps> <name=file>... decode+crop+embed timing
 *   node peer.js pipeline <modeldir> <reps> <name=file>...  decode+detect+landmarks+embed timing
 *
 * <modeldir> is the verified, extracted face-api package model directory from
 * deploy/models/fetch.sh (not node_modules), so peer and C read the very same weight bytes.
 */
const fs = require('fs');
const path = require('path');

const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

function die(msg) {
  process.stderr.write(`peer: ${msg}\n`);
  process.exit(2);
}

async function init(modelDir, nets) {
  const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/');
  wasm.setWasmPaths(wasmDir);
  await tf.setBackend('wasm');
  await tf.ready();
  for (const n of nets)
    await faceapi.nets[n].loadFromDisk(modelDir);
}

/* Binary PPM P6, maxval 255, header comments not supported (the C side writes none). */
function readPpm(file) {
  const buf = fs.readFileSync(file);
  let pos = 0;
  const tok = () => {
    while (pos < buf.length && /\s/.test(String.fromCharCode(buf[pos])))
      pos++;
    const start = pos;
    while (pos < buf.length && !/\s/.test(String.fromCharCode(buf[pos])))
      pos++;
    return buf.toString('latin1', start, pos);
  };
  if (tok() !== 'P6')
    die(`${file}: not a P6 PPM`);
  const w = Number(tok());
  const h = Number(tok());
  const maxval = Number(tok());
  pos++;
  if (!(w > 0 && h > 0 && maxval === 255) || buf.length - pos < w * h * 3)
    die(`${file}: bad PPM header`);
  return { w, h, data: new Uint8Array(buf.buffer, buf.byteOffset + pos, w * h * 3) };
}

function toTensor(img) {
  return tf.tensor3d(img.data, [img.h, img.w, 3], 'int32');
}

async function cmdDetect(modelDir, out, items) {
  await init(modelDir, ['ssdMobilenetv1', 'faceLandmark68Net']);
  const opts = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  const lines = ['# name\tface\tx\ty\tw\th\tscore (aligned box from face-api 68 points)'];
  for (const it of items) {
    const [name, file] = it.split('=');
    const t = toTensor(readPpm(file));
    const res = await faceapi.detectAllFaces(t, opts).withFaceLandmarks();
    t.dispose();
    res.sort((a, b) => a.detection.box.x - b.detection.box.x);
    res.forEach((r, i) => {
      const b = r.alignedRect.box;
      lines.push([name, i, b.x.toFixed(1), b.y.toFixed(1), b.width.toFixed(1),
        b.height.toFixed(1), r.detection.score.toFixed(3)].join('\t'));
    });
  }
  fs.writeFileSync(out, `${lines.join('\n')}\n`);
}

/* One line per face: name, face index (left to right), then x y of the 68 points (dlib/iBUG
 * order) in image pixels. */
async function cmdLandmarks(modelDir, out, items) {
  await init(modelDir, ['ssdMobilenetv1', 'faceLandmark68Net']);
  const opts = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  const lines = ['# name\tface\tx0\ty0 ... x67\ty67 (face-api 68 points, image pixels)'];
  for (const it of items) {
    const [name, file] = it.split('=');
    const t = toTensor(readPpm(file));
    const res = await faceapi.detectAllFaces(t, opts).withFaceLandmarks();
    t.dispose();
    res.sort((a, b) => a.detection.box.x - b.detection.box.x);
    res.forEach((r, i) => {
      const pts = r.landmarks.positions.map((p) => `${p.x.toFixed(2)}\t${p.y.toFixed(2)}`);
      lines.push([name, i, ...pts].join('\t'));
    });
  }
  fs.writeFileSync(out, `${lines.join('\n')}\n`);
}

async function cmdDescribe(modelDir, out, cropDir) {
  await init(modelDir, ['faceRecognitionNet']);
  const files = fs.readdirSync(cropDir).filter((f) => f.endsWith('.ppm')).sort();
  const res = [];
  for (const f of files) {
    const img = readPpm(path.join(cropDir, f));
    if (img.w !== 150 || img.h !== 150)
      die(`${f}: crop is ${img.w}x${img.h}, want 150x150`);
    const t = toTensor(img);
    const d = await faceapi.computeFaceDescriptor(t);
    t.dispose();
    res.push({ name: f.replace(/\.ppm$/, ''), descriptor: Array.from(d) });
  }
  fs.writeFileSync(out, JSON.stringify({ peer: `face-api ${faceapi.version} tfjs ${tf.version.tfjs} ${tf.getBackend()}`, crops: res }));
}

module.exports = { init, readPpm, toTensor, die, tf, faceapi };

async function main() {
  const [cmd, ...a] = process.argv.slice(2);
  if (cmd === 'detect' && a.length >= 3)
    return cmdDetect(a[0], a[1], a.slice(2));
  if (cmd === 'landmarks' && a.length >= 3)
    return cmdLandmarks(a[0], a[1], a.slice(2));
  if (cmd === 'describe' && a.length === 3)
    return cmdDescribe(a[0], a[1], a[2]);
  if (cmd === 'bench' && a.length >= 4)
    return require('./peer_bench.js').run(a[0], a[1], Number(a[2]), a.slice(3));
  if (cmd === 'pipeline' && a.length >= 3)
    return require('./peer_bench.js').runPipeline(a[0], Number(a[1]), a.slice(2));
  return die('usage: peer.js detect|landmarks|describe|bench|pipeline ... (see the header)');
}

if (require.main === module)
  main().catch((e) => die(e.stack || String(e)));
