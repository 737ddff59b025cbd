#!/usr/bin/env bash
# One GPU lease, prepared: train four candidates of the next model generation and the 12 kbps point's phase
# network side by side on one GPU for MINUTES,
# write their checkpoints and logs to $OUT, and time the runtime on onnxruntime's CUDA provider when the
# machine has it. Nothing is installed from the network: the wheels the image lacks travel in .whl/.
#
# Here, once (a 16 kHz training subset of 30 MiB and the wheels; pack/ and .whl/ are git-ignored; with the
# tracked files they must stay under the 64 MiB a call carries):
#   python scripts/pack_clips.py data/train/speech data/train/music -o pack/gpu/train.flac --seconds 3 \
#       --per-file "music=6,1" --max-clips 750
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       --platform any -d .whl soundfile==0.14.0 soxr==1.1.0 constriction==0.4.1 cffi==2.1.1 pycparser==3.12
# On the device machine (the `run` tool), from the repository root, carry [".whl", "pack/gpu"], timeout 580 s:
#   bash scripts/gpu_job.sh
# Back here: the checkpoints under the run's files folder; evaluate them with
#   python -m benchmarks.ceiling <files>/*.pth --limit 20   (pn12.pth: --phase-net <files>/pn12.pth)
# and resume any of them on CPU or GPU from its checkpoint (`RESUME=1`, the env line in train.log).
#
# Tested here on CPU with: DEVICE=cpu MINUTES=0.3 BATCH_SIZE=2 THREADS=1 OUT=/tmp/gpu_job bash scripts/gpu_job.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder that comes back}
MINUTES=${MINUTES:-7}
DEVICE=${DEVICE:-cuda}
BATCH_SIZE=${BATCH_SIZE:-32}
THREADS=${THREADS:-3}
PACK=${PACK:-pack/gpu/train.flac}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
LOG="$OUT/train.log"  # the machine, then every run's lines; with the checkpoints, at most 8 files come back

if ! "$PY" -c "import soundfile, soxr, constriction" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/runtime:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{
  date -u +%FT%TZ
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  "$PY" -c "import torch, onnxruntime as o; print('torch', torch.__version__, 'cuda', torch.cuda.is_available()); print('onnxruntime', o.__version__, o.get_available_providers())"
} > "$LOG" 2>&1
cat "$LOG"

# name | environment of the run (the common part below). Every candidate mixes in the fidelity kinds.
COMMON="DEVICE=$DEVICE BATCH_SIZE=$BATCH_SIZE THREADS=$THREADS MAX_AUDIO_SECONDS=2 EPOCHS=100000 MAX_TRAIN_FILES=0
  MAX_MINUTES=$MINUTES LOG_EVERY=50 SYNTH_FRACTION=0.2 MEL_LOSS_WEIGHT=1.0 PACKED=$PACK"
CANDIDATES=(
  # the shipped 12 kbps model fine-tuned through 8 unrolled Griffin-Lim iterations: magnitudes that it inverts well
  "gl12|CODER=1 RATE_KBPS=12.3 MODEL_CHANNELS=6 MODEL_HIDDEN=32 DEFAULT_BITS=5 PHASE_LOSS_WEIGHT=0 WAVE_PHASE=gl LEARNING_RATE=2e-4 INIT_FROM=checkpoints/rd12k.pth"
  # wider, finer in time: unquantized ceilings (no rate term yet); w64t1 goes on from lease 1's checkpoint
  "w64t1|CODER=0 MODEL_CHANNELS=8 MODEL_HIDDEN=64 TIME_DOWNSAMPLES=1 PHASE_HEAD=1 PHASE_LOSS=antiwrap WAVE_PHASE=true LEARNING_RATE=1e-3 INIT_FROM=checkpoints/candidates/w64t1.pth"
  "w96t2|CODER=0 MODEL_CHANNELS=8 MODEL_HIDDEN=96 TIME_DOWNSAMPLES=2 PHASE_HEAD=1 PHASE_LOSS=antiwrap WAVE_PHASE=true LEARNING_RATE=1e-3"
  # low latency: causal, 16 ms window, rate-trained, its phase output the phase advance (docs/TRAINING.md)
  "lladv|CODER=1 RATE_KBPS=10 RATE_LAMBDA=0.1 RATE_GAIN=0.05 N_FFT=256 HOP=64 CAUSAL=1 FREQ_DOWNSAMPLES=4 TIME_DOWNSAMPLES=0 MODEL_CHANNELS=8 MODEL_HIDDEN=64 DEFAULT_BITS=5 PHASE_HEAD=1 PHASE_LOSS=advance PHASE_LOSS_WEIGHT=2 WAVE_PHASE=true SC_LOSS_WEIGHT=15 SYNTH_FRACTION=0.25 SYNTH_RATE_WEIGHT=0.1 LEARNING_RATE=3e-4 INIT_FROM=checkpoints/ll12k.pth"
)
pids=()
# The 12 kbps point's phase network (phase head 2, docs/TRAINING.md), continued from the CPU run's: a cache of
# the codec's decoded magnitudes (the GPU pack, a quarter of it the suite's kinds), built on the device with
# few threads (built on the CPU beside four runs, it outlasted the first lease), then training for what is
# left of MINUTES, so that every run ends together and its checkpoint comes back.
END=$(awk -v m="$MINUTES" -v t="$(date +%s)" 'BEGIN { printf "%d", t + 60 * m }')
{
  "$PY" -m training.phase_train cache checkpoints/rd12k.pth --packed "$PACK" --synth 0.25 -o /tmp/pn_cache.npz \
      --device "$DEVICE" --threads "$THREADS" &&
  "$PY" -m training.phase_train train /tmp/pn_cache.npz -o /tmp/pn12_full.pth \
      --minutes "$(awk -v e="$END" -v t="$(date +%s)" 'BEGIN { m = (e - t) / 60; printf "%.2f", m < 0.1 ? 0.1 : m }')" \
      --device "$DEVICE" --batch $((BATCH_SIZE * 2)) --ip-weight 0.3 --threads "$THREADS" \
      --init-from checkpoints/candidates/rd12k_phase.pth &&
  "$PY" -c "import torch; c = torch.load('/tmp/pn12_full.pth', weights_only=False); c.pop('optimizer'); torch.save(c, '$OUT/pn12.pth')"
} 2>&1 | sed -u "s/^/[pn12] /" >> "$LOG" &
pids+=($!)
for c in "${CANDIDATES[@]}"; do
  name=${c%%|*}
  envs="$COMMON ${c#*|} RESULTS_DIR=$OUT/run_$name"
  echo "[$name] env $(echo $envs)" >> "$LOG"
  # shellcheck disable=SC2086
  env $envs "$PY" -m training.train 2>&1 | sed -u "s/^/[$name] /" >> "$LOG" &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
for c in "${CANDIDATES[@]}"; do
  name=${c%%|*}
  if [ -f "$OUT/run_$name/model_last.pth" ]; then mv "$OUT/run_$name/model_last.pth" "$OUT/$name.pth"; fi
  rmdir "$OUT/run_$name" 2>/dev/null || true
done
grep -E "^\[[a-z0-9]+\] (epoch|stopp|Traceback|.*Error)" "$LOG" | tail -n 20 || true

# The runtime on CUDA, where onnxruntime has the provider (the image's onnxruntime is CPU-only unless an
# onnxruntime-gpu wheel was carried): codec-rt's own timer, every shipped point, 60 s of speech.
if "$PY" -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())"; then
  "$PY" -m codec_rt.cli bench --provider cuda --seconds 60 --json "$OUT/bench_cuda.json" > "$OUT/bench_cuda.txt" 2>&1 || true
else
  echo "onnxruntime has no CUDAExecutionProvider here: no CUDA timing" > "$OUT/bench_cuda.txt"
fi
ls -la "$OUT"
exit $fail
