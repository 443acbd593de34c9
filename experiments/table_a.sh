#!/usr/bin/env bash
# Table A (IGNN's claim in miniature): IGNN-tiny x2 vs EDSR-tiny x2 (the same trunk with the
# graph block removed, model.use_graph=False), identical data (T91 + BSD200, the "291" set),
# steps, seed, batch, crops and learning-rate schedule; then Set5 / Set14 / BSD100 x2 scored on
# Y with a 2-pixel crop, with the bicubic row.
#
#   experiments/table_a.sh [RUNS_DIR] [DATA_DIR]     (defaults: runs/table_a, ../shared/data)
#
# Budget: STEPS steps of batch 8 (48x48 HR crops) per model, Adam from 2e-3 halved at 2/3 and
# 5/6 of STEPS (the README main job's schedule, which takes IGNN-tiny past bicubic), one process
# per core, XLA single-threaded; measured wall times are in docs/results.md. Resumes if RUNS_DIR
# already holds runs. parallel=pmap: the per-replica step under jax.pmap.
# EMBEDDING_ABLATION=1 also trains and scores IGNN-tiny with the kNN search on the image itself
# (model.embedding=pixels) instead of the randomly initialised frozen VGG features.
set -euo pipefail
RUNS=${1:-runs/table_a}
DATA=${2:-../shared/data}
STEPS=${STEPS:-1500}
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

common=(--config configs/ignn_tiny_x2.py
        --config.data.source=folder
        --config.data.train_path="$DATA/T91,$DATA/BSD200"
        --config.train.seed=0
        --config.train.steps="$STEPS"
        --config.train.learning_rate=2e-3
        --config.train.schedule=step
        --config.train.milestones="($((STEPS * 2 / 3)), $((STEPS * 5 / 6)))"
        --config.train.eval_every=500
        --config.train.checkpoint_every=250
        --config.train.keep_checkpoints=1
        --config.train.parallel=pmap)

mkdir -p "$RUNS"
python train.py "${common[@]}" --workdir "$RUNS/ignn_tiny_x2" > "$RUNS/ignn_tiny_x2.log" 2>&1 &
python train.py "${common[@]}" --config.model.use_graph=False \
    --workdir "$RUNS/edsr_tiny_x2" > "$RUNS/edsr_tiny_x2.log" 2>&1 &
graph_runs=(ignn_tiny_x2)
if [ "${EMBEDDING_ABLATION:-0}" = 1 ]; then
  python train.py "${common[@]}" --config.model.embedding=pixels \
      --workdir "$RUNS/ignn_pixels_tiny_x2" > "$RUNS/ignn_pixels_tiny_x2.log" 2>&1 &
  graph_runs+=(ignn_pixels_tiny_x2)
fi
wait

# IGNN-tiny inference costs ~40 s per Set14 image on a shared core here, so by default IGNN is
# scored on the first 10 BSD100 images only (FULL_BSD100=1: all 100).
source experiments/scoring.sh
link_first10 BSD100
for set in Set5 Set14 BSD100; do
  score edsr_tiny_x2 "$set" "$DATA/$set"
done
for run in "${graph_runs[@]}"; do
  score "$run" Set5 "$DATA/Set5"
  score "$run" Set14 "$DATA/Set14"
  score_first10 "$run" BSD100
done
python experiments/collect.py table_a "$RUNS"
