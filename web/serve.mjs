/**
 * Serve the repository on 127.0.0.1 for the demo page: `node serve.mjs [PORT]`, then open the printed URL
 * (after `node build.mjs`).
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './test/browser/server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { url } = await serve(root, Number(process.argv[2] ?? 0));
console.log(`demo: ${url}/web/demo/index.html (Ctrl-C to stop)`);
