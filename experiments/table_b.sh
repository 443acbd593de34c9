#!/usr/bin/env bash
# Table B (MAGN's claim in miniature): MAGN-tiny vs the DnCNN-like tiny baseline of similar
# parameter count, identical data (T91 + BSD200 read as grey), steps, seed, batch, crops and
# learning-rate schedule, grey Gaussian denoising at sigma 25; plus BM3D (optional package
# `bm3d`) on the same seed-0 noisy images. Scored on Set12 and BSD68 (grey PSNR/SSIM, no crop).
#
#   experiments/table_b.sh [RUNS_DIR] [DATA_DIR]     (defaults: runs/table_b, ../shared/data)
#
# Budget: STEPS steps of batch 8 (48x48 crops) per model on a cosine learning-rate schedule of
# PERIOD steps from 1e-3 to 0, one process per core, XLA single-threaded; measured wall times are
# in docs/results.md. Resumes if RUNS_DIR already holds runs.
set -euo pipefail
RUNS=${1:-runs/table_b}
DATA=${2:-../shared/data}
STEPS=${STEPS:-2000}
PERIOD=${PERIOD:-2000}
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

common=(--config.data.source=folder
        --config.data.train_path="$DATA/T91,$DATA/BSD200"
        --config.train.seed=0
        --config.train.steps="$STEPS"
        --config.train.learning_rate=1e-3
        --config.train.schedule=cosine_restarts
        --config.train.restart_period="$PERIOD"
        --config.train.eval_every=250
        --config.train.checkpoint_every=250
        --config.train.keep_checkpoints=1)

mkdir -p "$RUNS"
python train.py --config configs/magn_tiny_denoise_gray_s25.py "${common[@]}" \
    --workdir "$RUNS/magn_tiny_s25" > "$RUNS/magn_tiny_s25.log" 2>&1 &
python train.py --config configs/dncnn_tiny_denoise_gray_s25.py "${common[@]}" \
    --workdir "$RUNS/dncnn_tiny_s25" > "$RUNS/dncnn_tiny_s25.log" 2>&1 &
wait

# MAGN-tiny inference took 8 CPU-minutes for Set12 here, so by default MAGN is scored on
# the first 10 BSD68 images only (FULL_BSD68=1: all 68).
source experiments/scoring.sh
link_first10 BSD68
score dncnn_tiny_s25 Set12 "$DATA/Set12"
score magn_tiny_s25 Set12 "$DATA/Set12"
score dncnn_tiny_s25 BSD68 "$DATA/BSD68"
score_first10 magn_tiny_s25 BSD68
if python -c "import bm3d" 2>/dev/null; then
  for set in Set12 BSD68; do
    python experiments/bm3d_baseline.py --data "$DATA/$set" --sigma 25 --no-progress \
        --out "$RUNS/eval/bm3d/$set"
  done
else
  echo "bm3d is not installed (pip install bm3d==4.0.3): the BM3D row is skipped" >&2
fi
python experiments/collect.py table_b "$RUNS"
