#!/usr/bin/env bash
# One GPU lease, prepared: four runs of the low-latency point (`ll12k`, the one point that fails the fidelity
# suite on its model) side by side on one GPU for MINUTES, each run's checkpoint and moving-average snapshots
# in one tar in $OUT, and a timing of the runtime on onnxruntime's CUDA provider when the machine has it.
# Nothing is installed from the network: the wheels the image lacks travel in .whl/.
#
# Here, once (a 16 kHz training subset of 30 MiB and the wheels; pack/ and .whl/ are git-ignored):
#   python scripts/pack_clips.py data/train/speech data/train/music -o pack/gpu/train.flac --seconds 3 \
#       --per-file "music=6,1" --max-clips 750
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       --platform any -d .whl soundfile==0.14.0 soxr==1.1.0 constriction==0.4.1 cffi==2.1.1 pycparser==3.12
# A call carries at most 64 MiB with the tracked files (62 MB), so move what the job does not read out of
# the work tree first (checkpoints/candidates, runtime/codec_rt/models/retired, tests/data) and `git restore`
# them after. On the device machine (the `run` tool), carry [".whl", "pack/gpu"], timeout 580 s:
#   bash scripts/gpu_job.sh
# Back here: `tar xf <files>/NAME.tar` gives model_last.pth (resume it with RESUME=1, the env line in
# train.log, RESULTS_DIR at that folder) and ema_*.pth, the moving average every SNAP_SECONDS; score them as
# docs/TRAINING.md "Evaluate a checkpoint" says.
#
# Tested here on CPU with: DEVICE=cpu MINUTES=0.5 BATCH_SIZE=2 THREADS=1 SNAP_SECONDS=10 OUT=/tmp/gpu_job bash scripts/gpu_job.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder that comes back}
MINUTES=${MINUTES:-7}
DEVICE=${DEVICE:-cuda}
BATCH_SIZE=${BATCH_SIZE:-64}
THREADS=${THREADS:-3}
SNAP_SECONDS=${SNAP_SECONDS:-100}
PACK=${PACK:-pack/gpu/train.flac}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
LOG="$OUT/train.log"  # the machine, then every run's lines

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

# Stage 8's settings (runtime/codec_rt/models/LADDER.md), from the shipped checkpoint, a moving average of
# the weights (its tones swung from one CPU chunk to the next) and a batch of 64 (16 on CPU).
COMMON="DEVICE=$DEVICE BATCH_SIZE=$BATCH_SIZE THREADS=$THREADS MAX_AUDIO_SECONDS=2 EPOCHS=100000 MAX_TRAIN_FILES=0
  MAX_MINUTES=$MINUTES LOG_EVERY=50 PACKED=$PACK EMA_DECAY=0.998 INIT_FROM=checkpoints/ll12k.pth
  CODER=1 RATE_GAIN=0.05 N_FFT=256 HOP=64 CAUSAL=1 TIME_DOWNSAMPLES=0 FREQ_DOWNSAMPLES=4 MODEL_CHANNELS=8
  MODEL_HIDDEN=64 DEFAULT_BITS=5 PHASE_HEAD=1 PHASE_LOSS=advance PHASE_LOSS_WEIGHT=2 WAVE_PHASE=true
  MEL_LOSS_WEIGHT=1.0 SYNTH_RATE_WEIGHT=0.1"
CANDIDATES=(
  # encoder and decoder: the CPU run of 2026-12-01 (docs/TRAINING.md, "one long decay and a moving average")
  "lla|RATE_KBPS=13 RATE_LAMBDA=0.35 LEARNING_RATE=1e-4 SC_LOSS_WEIGHT=15 SYNTH_FRACTION=0.25"
  # the same with the peak-frequency term and more of the suite's kinds (the CPU run ll16's terms)
  "llb|RATE_KBPS=13 RATE_LAMBDA=0.35 LEARNING_RATE=1e-4 SC_LOSS_WEIGHT=20 PEAK_LOSS_WEIGHT=2 SYNTH_FRACTION=0.35"
  # the decoder alone: the same latent, rate and tables, so the rate term cannot trade a tone away
  "lld|FREEZE_ENCODER=1 RATE_KBPS=13 RATE_LAMBDA=0.35 LEARNING_RATE=2e-4 SC_LOSS_WEIGHT=20 PEAK_LOSS_WEIGHT=2 ONSET_LOSS_WEIGHT=0.5 SYNTH_FRACTION=0.4"
  "lle|FREEZE_ENCODER=1 RATE_KBPS=13 RATE_LAMBDA=0.35 LEARNING_RATE=1e-4 SC_LOSS_WEIGHT=15 PEAK_LOSS_WEIGHT=4 SYNTH_FRACTION=0.5"
)
pids=()
for c in "${CANDIDATES[@]}"; do
  name=${c%%|*}
  dir="$OUT/run_$name"
  mkdir -p "$dir"
  envs="$COMMON ${c#*|} RESULTS_DIR=$dir"
  echo "[$name] env $(echo $envs)" >> "$LOG"
  # shellcheck disable=SC2086
  env $envs "$PY" -m training.train 2>&1 | sed -u "s/^/[$name] /" >> "$LOG" &
  pids+=($!)
done
# The moving average every SNAP_SECONDS: which tones a checkpoint keeps changes as it trains.
(
  t0=$(date +%s)
  while sleep "$SNAP_SECONDS"; do
    s=$(( $(date +%s) - t0 ))
    for c in "${CANDIDATES[@]}"; do
      d="$OUT/run_${c%%|*}"
      if [ -f "$d/model_ema.pth" ]; then cp "$d/model_ema.pth" "$d/ema_${s}s.pth"; fi
    done
  done
) &
snap=$!
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
kill "$snap" 2>/dev/null || true
for c in "${CANDIDATES[@]}"; do
  name=${c%%|*}
  d="$OUT/run_$name"
  if [ -f "$d/model_ema.pth" ]; then cp "$d/model_ema.pth" "$d/ema_last.pth"; fi
  # one file a run: at most 8 files come back
  (cd "$d" && tar cf "$OUT/$name.tar" model_last.pth ema_*.pth 2>/dev/null) || echo "[$name] nothing to keep" >> "$LOG"
  rm -rf "$d"
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
