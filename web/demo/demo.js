/**
 * The demo page: open, drop or record audio, encode it in the page at a chosen bitrate, show the blob's size
 * and actual bitrate, decode it, play both and draw both spectrograms; or open a .cra blob and play it.
 * Everything runs here, on onnxruntime-web's WebAssembly back end; the models are fetched from the repository.
 */

import * as ort from 'onnxruntime-web';
import { decode, encode, readWav, spectrogram, webStore, writeWav } from 'codec-rt-web';

ort.env.wasm.wasmPaths = new URL('../node_modules/onnxruntime-web/dist/', import.meta.url).href;
const models = webStore(new URL('../../runtime/codec_rt/models/', import.meta.url).href);

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const status = $('status');
const encodeButton = /** @type {HTMLButtonElement} */ ($('encode'));

/** @type {{channels: Float32Array[], sampleRate: number, name: string} | null} */
let audio = null;

/** What the page last did, for tests and the curious. */
const state = /** @type {any} */ ({ ready: false, busy: false, blob: null, decoded: null, error: null });
/** @type {any} */ (window).codecDemo = state;

/** @param {string} text @param {boolean} [error] */
function say(text, error = false) {
  status.textContent = text;
  status.classList.toggle('error', error);
  if (error) state.error = text;
}

/** @param {string} id @param {string | number} v */
function show(id, v) {
  $(id).textContent = String(v);
}

/** Play `channels` in the <audio> `id` (as a WAV). @param {string} id @param {Float32Array[]} channels @param {number} rate */
function play(id, channels, rate) {
  const el = /** @type {HTMLAudioElement} */ ($(id));
  if (el.src) URL.revokeObjectURL(el.src);
  el.src = URL.createObjectURL(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (writeWav(channels, rate))], { type: 'audio/wav' }));
}

/**
 * Draw the log-power spectrogram of the channels' mean (n_fft 512 at 16 kHz, scaled with the rate) on canvas `id`,
 * 0 .. 8 kHz, 80 dB of range.
 * @param {string} id @param {Float32Array[]} channels @param {number} rate
 */
function draw(id, channels, rate) {
  const canvas = /** @type {HTMLCanvasElement} */ ($(id));
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  const x = new Float32Array(channels[0].length);
  for (const c of channels) for (let i = 0; i < x.length; i++) x[i] += c[i] / channels.length;
  const nFft = 2 ** Math.round(Math.log2((512 * rate) / 16000));
  const { p, nb, t } = spectrogram(x, nFft, nFft / 4);
  const top = Math.min(nb, Math.round((8000 / rate) * nFft) + 1);
  let max = 1e-20;
  for (const v of p) max = Math.max(max, v);
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let px = 0; px < canvas.width; px++) {
    const frame = Math.min(t - 1, Math.floor((px / canvas.width) * t));
    for (let py = 0; py < canvas.height; py++) {
      const bin = Math.floor(((canvas.height - 1 - py) / canvas.height) * top);
      const db = 10 * Math.log10(Math.max(p[bin * t + frame], max * 1e-8) / max); // -80 .. 0
      const v = Math.max(0, Math.min(1, 1 + db / 80));
      const o = 4 * (py * canvas.width + px);
      img.data[o] = 255 * Math.min(1, 1.5 * v);
      img.data[o + 1] = 255 * v * v;
      img.data[o + 2] = 255 * Math.max(0, 0.6 - v) * (v > 0.05 ? 1 : v * 20);
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

/** An audio file -> channels at its rate: a WAV as it is, anything else through the browser's decoder. @param {ArrayBuffer} buf */
async function readAudio(buf) {
  try {
    return readWav(new Uint8Array(buf), 'the file');
  } catch {
    const ctx = new OfflineAudioContext(1, 1, 48000);
    const b = await ctx.decodeAudioData(buf.slice(0));
    return { channels: Array.from({ length: b.numberOfChannels }, (_, i) => b.getChannelData(i).slice()), sampleRate: b.sampleRate };
  }
}

/** Set the input audio. @param {Float32Array[]} channels @param {number} rate @param {string} name */
function setAudio(channels, rate, name) {
  audio = { channels, sampleRate: rate, name };
  show('source', name);
  show('duration', (channels[0].length / rate).toFixed(2));
  show('rate', rate);
  show('channels', channels.length);
  for (const id of ['size', 'kbps', 'model', 'encode-ms', 'decode-ms']) show(id, '–');
  play('original', channels, rate);
  draw('spec-original', channels, rate);
  encodeButton.disabled = false;
  say('ready: pick a bitrate and encode');
}

/** A .cra blob: decode it, play it. @param {Uint8Array} data @param {string} name */
async function openBlob(data, name) {
  state.busy = true;
  say(`decoding ${name}…`);
  const t = performance.now();
  const out = await decode(models, data, { onWarning: (w) => say(w) });
  show('decode-ms', Math.round(performance.now() - t));
  const seconds = out.channels[0].length / out.sampleRate;
  show('source', name);
  show('duration', seconds.toFixed(2));
  show('rate', out.sampleRate);
  show('channels', out.channels.length);
  show('size', data.length);
  show('kbps', ((8 * data.length) / seconds / 1000).toFixed(2));
  show('model', out.header.modelId);
  play('decoded', out.channels, out.sampleRate);
  draw('spec-decoded', out.channels, out.sampleRate);
  state.decoded = { channels: out.channels.length, samples: out.channels[0].length, sampleRate: out.sampleRate };
  say(`decoded ${name}${out.truncated ? ' (cut short: decoded up to the cut)' : ''}`);
}

/** @param {File} file */
async function openFile(file) {
  const buf = await file.arrayBuffer();
  const head = new Uint8Array(buf, 0, Math.min(4, buf.byteLength));
  if (String.fromCharCode(...head) === 'CRTB') return openBlob(new Uint8Array(buf), file.name);
  say(`reading ${file.name}…`);
  const { channels, sampleRate } = await readAudio(buf);
  setAudio(channels, sampleRate, file.name);
}

async function encodeAndDecode() {
  if (!audio) return;
  state.busy = true;
  encodeButton.disabled = true;
  const choice = /** @type {HTMLSelectElement} */ ($('bitrate')).value;
  const opts = choice === 'll' ? { lowLatency: true } : { bitrate: Number(choice) };
  say('encoding…');
  let t = performance.now();
  const blob = await encode(models, audio.channels, audio.sampleRate, { ...opts, framed: true });
  show('encode-ms', Math.round(performance.now() - t));
  const seconds = audio.channels[0].length / audio.sampleRate;
  show('size', blob.length);
  show('kbps', ((8 * blob.length) / seconds / 1000).toFixed(2));
  const link = /** @type {HTMLAnchorElement} */ ($('download'));
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (blob)], { type: 'application/octet-stream' }));
  link.hidden = false;
  state.blob = Array.from(blob);
  say('decoding…');
  t = performance.now();
  const out = await decode(models, blob);
  show('decode-ms', Math.round(performance.now() - t));
  show('model', out.header.modelId);
  play('decoded', out.channels, out.sampleRate);
  draw('spec-decoded', out.channels, out.sampleRate);
  state.decoded = { channels: out.channels.length, samples: out.channels[0].length, sampleRate: out.sampleRate };
  say('done: play both');
  encodeButton.disabled = false;
}

/** Run `job`, reporting its error on the page. @param {() => Promise<unknown>} job */
async function guarded(job) {
  try {
    await job();
  } catch (e) {
    say(`error: ${e instanceof Error ? e.message : e}`, true);
    encodeButton.disabled = !audio;
  } finally {
    state.busy = false;
  }
}

/** @type {MediaRecorder | null} */
let recorder = null;
async function toggleRecord() {
  const button = $('record');
  if (recorder) {
    recorder.stop();
    return;
  }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const chunks = /** @type {Blob[]} */ ([]);
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.onstop = () => guarded(async () => {
    stream.getTracks().forEach((tr) => tr.stop());
    recorder = null;
    button.classList.remove('on');
    button.textContent = 'record';
    const { channels, sampleRate } = await readAudio(await new Blob(chunks).arrayBuffer());
    setAudio(channels, sampleRate, 'recording');
  });
  recorder.start();
  button.classList.add('on');
  button.textContent = 'stop';
  say('recording… press stop');
}

$('file').addEventListener('change', (e) => {
  const f = /** @type {HTMLInputElement} */ (e.target).files?.[0];
  if (f) guarded(() => openFile(f));
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files?.[0];
  if (f) guarded(() => openFile(f));
});
$('record').addEventListener('click', () => guarded(toggleRecord));
encodeButton.addEventListener('click', () => guarded(encodeAndDecode));

guarded(async () => {
  await models.ladder();
  state.ready = true;
  say('open, drop or record audio, or open a .cra');
});
