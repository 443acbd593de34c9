#!/usr/bin/env bash
# The accelerator check (issue 16): one script, prepared and run small on CPU, to run once on a
# GPU machine; its output goes into docs/accelerators.md with the date and the device.
#
#   bash bench/accelerator_check.sh              # GPU: IGNN x2 at the paper's size, ~8 min
#   SMALL=1 bash bench/accelerator_check.sh      # CPU: the same steps on tiny models, minutes
#
# 1. the device and versions; 2. the tests of models, training, inference and export;
# 3. 200 training steps of IGNN x2 (paper size: 32 blocks, 256 features, HR crop 160, batch 2)
#    in float32 and in bfloat16: steps/s, compile time, peak memory, from the runs' own logs;
# 4. bench/restore.py (tiled restore: the default tile batch, then 1) and bench/train_step.py.
# Everything is printed; OUT (default accelerator_check/) keeps the runs' work directories.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-accelerator_check}
mkdir -p "$OUT"
if [ "${SMALL:-0}" = 1 ]; then
  CONFIG=ignn_tiny_x2 STEPS=6 CROP=48 BATCH=2 MEGAPIXELS=0.25 CASES="tiny:2:48"
else
  CONFIG=ignn_x2 STEPS=200 CROP=160 BATCH=2 MEGAPIXELS=1,16 CASES="tiny:8:96 full:2:160"
fi

echo "== device"
python -c "import jax, jaxlib, flax; print(jax.devices(), jax.default_backend(), \
'jax', jax.__version__, 'jaxlib', jaxlib.__version__, 'flax', flax.__version__)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true

echo "== tests"
python -m pytest -q -x -p no:cacheprovider tests/test_precision.py tests/test_train_loop.py \
    tests/test_inference.py tests/test_export.py

echo "== training: $CONFIG, $STEPS steps, HR crop $CROP, batch $BATCH"
for dtype in float32 bfloat16; do
  workdir="$OUT/train_$dtype"
  rm -rf "$workdir"
  start=$(date +%s)
  python train.py --config "$CONFIG" --workdir "$workdir" --config.model.dtype="$dtype" \
      --config.train.steps="$STEPS" --config.data.patch_size="$CROP" \
      --config.data.batch_size="$BATCH" --config.train.log_every=10 \
      --config.train.eval_every=0 --config.train.checkpoint_every=0 > "$workdir.log" 2>&1
  python - "$workdir" "$dtype" "$(( $(date +%s) - start ))" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1] + "/metrics.jsonl")]
times = [r["train/seconds_per_step"] for r in rows if "train/seconds_per_step" in r]
memory = next(r for r in rows if "memory/peak_host_bytes" in r)
print(json.dumps({"dtype": sys.argv[2], "wall_s": int(sys.argv[3]),
                  "first_window_s_per_step": round(times[0], 4),  # compilation included
                  "steps_per_s": round(1 / statistics.median(times[1:] or times), 3),
                  "final_loss": [r for r in rows if "train/loss" in r][-1]["train/loss"],
                  **{k.split("/")[1]: v for k, v in memory.items() if k != "step"}}))
EOF
done

echo "== restore"
python bench/restore.py --models ignn_tiny_x2,magn_tiny_s25 --megapixels "$MEGAPIXELS"
python bench/restore.py --models ignn_tiny_x2,magn_tiny_s25 --megapixels "$MEGAPIXELS" \
    --tile-batch 1 --no-whole
echo "== training step"
python bench/train_step.py --cases $CASES --steps 5
