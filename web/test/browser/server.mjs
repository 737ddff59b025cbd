/**
 * A static file server on 127.0.0.1 for the browser test and the demo: the repository's files, read-only,
 * nothing outside it and none of its hidden files or folders (.git, .venv).
 */

import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream',
  '.cra': 'application/octet-stream', '.wav': 'audio/wav', '.png': 'image/png',
};

/**
 * Serve `root` on 127.0.0.1 at `port` (0: a free one) -> {url, close}.
 * @param {string} root @param {number} [port]
 * @returns {Promise<{url: string, close: () => Promise<void>}>}
 */
export function serve(root, port = 0) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const file = path.resolve(root, `.${decodeURIComponent(url.pathname)}`);
    // nothing outside the repository, and none of its hidden files (.git, .venv)
    let ok = file.startsWith(root + path.sep) && !path.relative(root, file).split(path.sep).some((p) => p.startsWith('.'));
    try {
      ok = ok && statSync(file).isFile();
    } catch {
      ok = false;
    }
    if (!ok || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[/** @type {keyof typeof TYPES} */ (path.extname(file))] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}
