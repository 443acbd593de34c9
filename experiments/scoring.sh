# Scoring helpers shared by the table scripts (sourced; they use the scripts' RUNS and DATA).
# Graph models are slow to evaluate on this CPU, so the large sets are scored on their first
# 10 images unless FULL_<SET>=1; experiments/collect.py takes every other method's scores on
# the same 10 images from its per-image rows on the full set.

# link_first10 SET: RUNS/SET_first10 holds links to the first 10 images of DATA/SET (by name).
link_first10() {
  mkdir -p "$RUNS/$1_first10"
  for f in $(ls "$DATA/$1" | sort | head -10); do
    ln -sf "$(cd "$DATA/$1" && pwd)/$f" "$RUNS/$1_first10/$f"
  done
}

# score RUN NAME FOLDER: eval.py score of RUNS/RUN's checkpoint on FOLDER into RUNS/eval/RUN/NAME.
score() {
  python eval.py score --checkpoint "$RUNS/$1/checkpoints" --data "$3" \
      --figures 0 --no-progress --out "$RUNS/eval/$1/$2"
}

# score_first10 RUN SET: score RUN on DATA/SET if FULL_SET=1, else on its first 10 images.
score_first10() {
  local full="FULL_$2"
  if [ "${!full:-0}" = 1 ]; then
    score "$1" "$2" "$DATA/$2"
  else
    score "$1" "$2_first10" "$RUNS/$2_first10"
  fi
}
