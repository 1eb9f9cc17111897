#!/usr/bin/env bash
# Evaluates a v1 snapshot against the shipped v0.2 on the new corpus's test split, the same way for both
# (issue 15's release criteria): 12 styles both models know, 8 samples of 20 s each, every test piece both can read.
#
#   bash reports/default-model-v1/evaluate.sh MODEL OUT      # MODEL: an exported model folder (or `default`)
#
# v0.2 comes out of git (the commit before v1 replaced it) into /tmp/musenet-v0.2 when it is not there.
set -euo pipefail
MODEL=${1:?model folder}
OUT=${2:?report folder}
BIN=${BIN:-.venv/bin}
DATA=${DATA:-data/default}
V02=${V02:-/tmp/musenet-v0.2}
V02_COMMIT=${V02_COMMIT:-3b2bbb1}
STYLES=${STYLES:-german_folk,irish_folk,chinese_folk,palestrina,bach,romantic,piano,pop,rock,jazz,blues,game}
if [ ! -f "$V02/model.safetensors" ]; then
    mkdir -p "$V02"
    for f in model.safetensors config.json; do git show "$V02_COMMIT:musenet/weights/default/$f" > "$V02/$f"; done
fi
SAMPLES=${SAMPLES:-8}
MAX_TEST_TOKENS=${MAX_TEST_TOKENS:-0}   # 0: every test piece both models can read
E=(--data "$DATA" --styles "$STYLES" --samples "$SAMPLES" --seconds 20 --max-test-tokens "$MAX_TEST_TOKENS" --threads "${THREADS:-2}" --quiet)
"$BIN/musenet" evaluate --model "$MODEL" --compare "$V02" --out "$OUT" "${E[@]}"
# v0.2's own report: made once per samples plan (skipped when OUT/v0.2 already holds one, e.g. copied from the last
# release's reports/default-model/eval/v0.2 with the same SAMPLES)
[ -f "$OUT/v0.2/metrics.json" ] || "$BIN/musenet" evaluate --model "$V02" --out "$OUT/v0.2" "${E[@]}"
