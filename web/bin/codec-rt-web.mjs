#!/usr/bin/env node
/**
 * codec-rt-web: the command line of codec-rt's JavaScript runtime, in the shape of the Python one.
 *
 *   codec-rt-web decode IN.cra -o OUT.wav [--phase-iters N] [--contrast X]
 *   codec-rt-web encode IN.wav -o OUT.cra [--bitrate KBPS | --low-latency] [--mode predicted|tonal_band_phase|low_band_phase|store_phase]
 *                                         [--bits N] [--layout framed|whole] [--stereo auto|mid-side|independent]
 *   codec-rt-web info IN.cra
 * Every command: [--model DIR] [--models DIR|URL] [--backend native|wasm] [--force]; `-` for IN reads stdin,
 * `-o -` writes stdout (as the Python CLI).
 * A user mistake (missing file, bad blob, existing output without --force) is one line on stderr, exit 2.
 */

import { existsSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CodecError, ModelMismatchError, decode, encode, loadModel, readBlob, store as openStore } from '../src/node.js';
import { readWav, writeWav } from '../src/wav.js';
import { followTracks } from '../src/tracks.js';

const USAGE = `usage:
  codec-rt-web decode IN.cra -o OUT.wav [--phase-iters N] [--contrast X]
  codec-rt-web encode IN.wav -o OUT.cra [--bitrate KBPS | --low-latency | --bits N] [--mode predicted|tonal_band_phase|low_band_phase|store_phase]
                                        [--layout framed|whole] [--stereo auto|mid-side|independent]
  codec-rt-web info IN.cra
options for all: --model DIR (one model) | --models DIR|URL (a ladder), --backend native|wasm, --force
- as IN reads stdin, -o - writes stdout`;

class UsageError extends Error {}

const NAME_MAX = 255; // bytes in a file name on Linux, macOS and Windows filesystems

const STDIO = '-';
const STDIN_NAME = '<stdin>';

/** @param {string} file */
function readInput(file) {
  if (file === STDIO) {
    try {
      return new Uint8Array(readFileSync(0));
    } catch (e) {
      throw new CodecError(`stdin: cannot read (${/** @type {any} */ (e)?.code ?? e})`);
    }
  }
  if (!existsSync(file)) throw new CodecError(`input ${file} does not exist`);
  if (!statSync(file).isFile()) throw new CodecError(`input ${file} is not a regular file`);
  return new Uint8Array(readFileSync(file));
}

/**
 * Refuse an output that is the input however it is spelled (even with --force), a folder, or an existing
 * file without --force. @param {string} file @param {boolean} force @param {string} input
 */
function checkOutput(file, force, input) {
  if (file === STDIO) return;
  // path.basename drops it: "new/" would become a file called new
  if (/[/\\]$/.test(file)) throw new CodecError(`output ${file} names a folder; give a file name`);
  if (Buffer.byteLength(path.basename(file)) > NAME_MAX) throw new CodecError(`output ${file}: cannot write (file name too long)`);
  if (!existsSync(file)) return;
  if (input !== STDIO && realpathSync(file) === realpathSync(input)) throw new CodecError(`output ${file} is the input file; refusing to overwrite it`);
  const st = statSync(file);
  if (st.isDirectory()) throw new CodecError(`output ${file} is a directory`);
  // the rename into place would replace a device or pipe with a plain file (as root: -o /dev/null --force)
  if (!st.isFile()) throw new CodecError(`output ${file} is not a regular file (a device, pipe or socket); write a file, or to stdout with -o -`);
  if (!force) throw new CodecError(`output ${file} exists (use --force to replace it)`);
}

/** Write `bytes` to a temporary file renamed into place: nothing half-written is left, whatever fails.
 * @param {string} file @param {Uint8Array} bytes @param {boolean} force @param {string} input */
function writeOutput(file, bytes, force, input) {
  if (file === STDIO) {
    // Node flushes what is written before it exits; a reader that went away is one line, exit 2
    process.stdout.on('error', (e) => {
      console.error(`error: stdout: cannot write (${/** @type {any} */ (e)?.code ?? e.message})`);
      process.exit(2);
    });
    process.stdout.write(bytes);
    return;
  }
  checkOutput(file, force, input);
  // the temporary name is longer than the output's: cut so that a 255-byte name is still written
  const suffix = `.tmp-${process.pid}`;
  const head = Buffer.from(`.${path.basename(file)}`).subarray(0, NAME_MAX - suffix.length).toString().replace(/\uFFFD+$/, '');
  const tmp = path.join(path.dirname(file), head + suffix);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing was made there
    }
    const code = /** @type {any} */ (e)?.code;
    throw new CodecError(`cannot write ${file}: ${code === 'ENOENT' ? 'no such folder' : code ?? (e instanceof Error ? e.message : e)}`);
  }
}

/** @param {string | undefined} s @param {string} name @param {boolean} [whole] */
function number(s, name, whole = false) {
  if (s === undefined) return undefined;
  const x = Number(s);
  if (!Number.isFinite(x) || (whole && !Number.isInteger(x))) {
    throw new UsageError(`${name} must be a ${whole ? 'whole number' : 'number'}, got ${s}`);
  }
  return x;
}

const NUMERIC = ['--phase-iters', '--contrast', '--bitrate', '--bits'];

/** `--opt -1` as `--opt=-1`: parseArgs takes a value that starts with a dash for an option (the Python CLI
 * reads it as the number). @param {string[]} argv */
function negativeValues(argv) {
  const out = [];
  for (let i = 0; i < argv.length; i++) {
    if (NUMERIC.includes(argv[i]) && /^-(\d|\.\d)/.test(argv[i + 1] ?? '')) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

async function main() {
  const { values: o, positionals } = parseArgs({
    args: negativeValues(process.argv.slice(2)),
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' }, force: { type: 'boolean' }, model: { type: 'string' },
      models: { type: 'string' }, backend: { type: 'string' }, 'phase-iters': { type: 'string' },
      contrast: { type: 'string' }, bitrate: { type: 'string' }, 'low-latency': { type: 'boolean' },
      mode: { type: 'string' }, bits: { type: 'string' }, layout: { type: 'string' }, stereo: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) {
    console.log(USAGE);
    return;
  }
  const [cmd, input, ...rest] = positionals;
  if (!['decode', 'encode', 'info'].includes(cmd) || !input || rest.length) throw new UsageError('expected a command and one input');
  // an option the command does not take is a mistake, not something to ignore (codec-rt's typer refuses it)
  const only = { encode: ['bitrate', 'low-latency', 'mode', 'bits', 'layout', 'stereo'], decode: ['phase-iters', 'contrast'] };
  for (const [owner, names] of Object.entries(only)) {
    const used = names.filter((n) => /** @type {any} */ (o)[n] !== undefined);
    if (cmd !== owner && used.length) throw new UsageError(`${cmd} takes no --${used[0]}`);
  }
  if (cmd !== 'info' && !o.output) throw new UsageError(`${cmd} needs -o OUTPUT`);
  const backend = o.backend ?? 'native';
  if (backend !== 'native' && backend !== 'wasm') throw new UsageError('--backend must be native or wasm');
  const store = { backend: /** @type {'native' | 'wasm'} */ (backend), models: o.models };
  if (o.model && (o.bitrate !== undefined || o['low-latency'] || o.models)) {
    throw new CodecError('choose a model folder (--model) or a ladder point (--models, --bitrate, --low-latency), not both');
  }
  const model = o.model ? await loadModel(o.model, store) : undefined;
  const data = readInput(input);
  if (cmd === 'info') {
    const { header: h, packets } = readBlob(data);
    const seconds = h.numSamples / h.sampleRate;
    // The blob against its model (the ladder's, by id, or --model), as decode checks it: info must not print
    // as good a blob that decode refuses. A model the ladder does not hold is reported, not an error.
    let checked = model;
    if (!checked) {
      try {
        checked = await (await openStore(store)).forBlob(data);
      } catch (e) {
        if (!(e instanceof ModelMismatchError)) throw e;
      }
    }
    checked?.checkCompatible(h);
    followTracks(readBlob(data)); // the tracks' fields against each other (4.9), as decode checks them
    console.log(JSON.stringify({
      ...h, packets: packets.length, bytes: data.length, kbps: seconds ? (8 * data.length) / seconds / 1000 : 0,
      model: checked ? 'checked' : 'not in the ladder',
    }, null, 1));
    return;
  }
  const output = /** @type {string} */ (o.output);
  checkOutput(output, !!o.force, input);
  // only WAV is written: an audio name of another format would get WAV bytes under a wrong name
  if (cmd === 'decode' && output !== STDIO && !/\.wav$/i.test(output)) { // out.raw got WAV bytes too
    throw new CodecError(`codec-rt-web writes WAV only: name the output .wav (got ${output})`);
  }
  if (cmd === 'decode') {
    const out = await decode(data, {
      ...store, model, phaseIters: number(o['phase-iters'], '--phase-iters', true), contrast: number(o.contrast, '--contrast'),
      onWarning: (m) => console.error(m),
    });
    const report = { over: 0 };
    writeOutput(output, writeWav(out.channels, out.sampleRate, report), !!o.force, input);
    if (report.over) {
      const share = (100 * report.over) / Math.max(1, out.channels.length * out.channels[0].length);
      console.error(`warning: ${report.over} samples (${share.toFixed(2)} %) decoded at or over full scale were bent `
        + 'below it (soft clipping)');
    }
    return;
  }
  if (o.layout !== undefined && o.layout !== 'framed' && o.layout !== 'whole') throw new UsageError('--layout must be framed or whole');
  if (o.mode !== undefined && !['predicted', 'tonal_band_phase', 'low_band_phase', 'store_phase'].includes(o.mode)) {
    throw new UsageError('--mode must be predicted, tonal_band_phase, low_band_phase or store_phase');
  }
  if (o.stereo !== undefined && !['auto', 'mid-side', 'independent'].includes(o.stereo)) throw new UsageError('--stereo must be auto, mid-side or independent');
  const { channels, sampleRate } = readWav(data, input === STDIO ? STDIN_NAME : input, (m) => console.error(m));
  const blob = await encode(channels, sampleRate, {
    ...store, model, bitrate: number(o.bitrate, '--bitrate'), lowLatency: !!o['low-latency'],
    mode: /** @type {'predicted' | 'store_phase' | 'low_band_phase' | 'tonal_band_phase' | undefined} */ (o.mode),
    bits: number(o.bits, '--bits', true),
    framed: (o.layout ?? 'framed') === 'framed', jointStereo: (o.stereo ?? 'auto') === 'auto' ? undefined : o.stereo === 'mid-side',
  });
  writeOutput(output, blob, !!o.force, input);
}

main().catch((e) => {
  if (e instanceof CodecError) console.error(`error: ${e.message}`);
  else if (e instanceof UsageError || (e instanceof TypeError && /** @type {any} */ (e).code?.startsWith('ERR_PARSE_ARGS'))) {
    console.error(`error: ${e.message.split(/\s+/).join(' ')} (codec-rt-web --help for usage)`); // one line
  } else {
    console.error(e);
    process.exit(1);
  }
  process.exit(2);
});
