#!/usr/bin/env bash
# CI of the JavaScript runtime (web/), idempotent: node packages from the lock file, Debian's Chromium when
# /usr/bin/chromium is missing, the reference data from the Python runtime, then the type check, `npm test`
# (Node's test runner) and the browser test. PYTHON: the interpreter with codec_rt (default: the repo's
# .venv, as .ci/run makes it, else python3).
set -euo pipefail
cd "$(dirname "$0")"
REPO="$(cd .. && pwd)"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
export PYTHON
need_apt_update=1
apt_install() {
  if [ "$need_apt_update" = 1 ]; then apt-get update -qq; need_apt_update=0; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
[ -x /usr/bin/chromium ] || apt_install chromium
# onnxruntime-node's install script downloads CUDA files from a host CI cannot reach; its CPU binaries ship
# in the package, so scripts are skipped.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
"$PYTHON" "$REPO/scripts/make_web_reference.py"
npm run --silent typecheck
npm test
npm run --silent build
npm run test:browser
