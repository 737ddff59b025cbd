#!/usr/bin/env bash
# Fine-tune the rate-distortion ladder from the fixed-width default checkpoint: one run per target rate
# (kbps of the latent on the training mix), all in parallel, each writing OUT/r<rate>/model_last.pth.
#
#   DEVICE=cuda MINUTES=6.5 THREADS=3 bash scripts/train_ladder.sh --packed pack/gpu/train.flac
#   bash scripts/train_ladder.sh data/train            # CPU, from the folders (slow: set MINUTES)
#
# Export a point: codec-export OUT/r6/model_last.pth -o runtime/codec_rt/models/rd6k
set -euo pipefail
OUT=${OUT:-results_ladder}
TARGETS=${TARGETS:-"2.8 4.5 6.5 9 13"}
mkdir -p "$OUT"
for r in $TARGETS; do
  CODER=1 RATE_KBPS=$r RATE_LAMBDA=$(python -c "print(2 / $r)") RATE_GAIN=${RATE_GAIN:-0.01} LOG_EVERY=${LOG_EVERY:-0} MODEL_CHANNELS=6 MODEL_HIDDEN=32 DEFAULT_BITS=5 MEL_LOSS_WEIGHT=1.0 WAVE_PHASE=${WAVE_PHASE:-both} \
  LEARNING_RATE=${LEARNING_RATE:-5e-4} BATCH_SIZE=${BATCH_SIZE:-32} MAX_AUDIO_SECONDS=${MAX_AUDIO_SECONDS:-3} EPOCHS=${EPOCHS:-100000} \
  MAX_MINUTES=${MINUTES:-30} DEVICE=${DEVICE:-cpu} THREADS=${THREADS:-2} MAX_TRAIN_FILES=${MAX_TRAIN_FILES:-0} \
  RESULTS_DIR="$OUT/r$r" PYTHONUNBUFFERED=1 \
    python -m training.train "$@" --init-from "${INIT_FROM:-checkpoints/default.pth}" 2>&1 | sed -u "s/^/[r$r] /" >> "$OUT/train.log" &
done
wait
