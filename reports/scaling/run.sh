#!/usr/bin/env bash
# The scaling study of issue 15: shapes between the tiny and the small preset, each trained for the same
# wall-clock budget, all at once, one torch thread each (so the machine's load falls on all of them alike),
# with zero-initialised structural embeddings, the style-balanced sampler and the chosen infill share.
# A constant learning rate after warm-up (min_lr_ratio 1): the runs stop on a time limit, not at the end of a
# schedule, and a constant rate makes their curves comparable at every point.
#
#   bash reports/scaling/run.sh                      # DATA=data/default BUDGET_S=2400 OUT=runs/scaling
#   .venv/bin/python reports/scaling/plot.py runs/scaling reports/scaling   # curves + table -> report
set -euo pipefail
BIN=${BIN:-.venv/bin}
DATA=${DATA:-data/default}
BUDGET_S=${BUDGET_S:-2400}
OUT=${OUT:-runs/scaling}
INFILL=${INFILL:-}   # e.g. 0.25 (the infill share); empty: the trainer's default
SHAPES=${SHAPES:-"4x256c512 6x320c512 4x256c1024 6x384c1024"}
mkdir -p "$OUT"
for shape in $SHAPES; do
    L=${shape%%x*}; rest=${shape#*x}; W=${rest%%c*}; C=${rest#*c}
    H=$((W / 64))
    B=$((8 * 512 / C)); [ "$B" -lt 4 ] && B=4
    OMP_NUM_THREADS=1 nohup nice "$BIN/musenet" train --data "$DATA" --out "$OUT/$shape" --preset tiny \
        --n-layer "$L" --n-embd "$W" --n-head "$H" --context "$C" --batch-size "$B" \
        --structural-init zero ${INFILL:+--infill-share "$INFILL"} --lr 1e-3 --min-lr-ratio 1 --warmup-steps 30 \
        --max-steps 100000 --eval-interval 20 --eval-batches 8 --threads 1 \
        --time-limit-s "$BUDGET_S" --dtype fp32 > "$OUT/$shape.log" 2>&1 &
done
wait
