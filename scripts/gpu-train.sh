#!/usr/bin/env bash
# Train on a GPU lent for minutes (see scripts/README.md): the packed data in .gpu/data (carried), the weights and
# logs out to $OUT (train.log, run/config.json, run/model-*.safetensors, run/log.csv, run/burst.json).
#
#   here:     python -m musenet.train.burst pack data/default --out .gpu/data
#   there:    the run tool, command `bash scripts/gpu-train.sh --preset small --batch-size 64 --rotary`, carry [".gpu"],
#             timeout_s 540 (BUDGET_S=420 by default: the budget covers calibration, training, the last
#             evaluation and checkpoint)
#   here:     python -m musenet.train.burst join <files_at>/run --out runs/gpu
#             musenet train --data data/default --init-from runs/gpu --out runs/cpu --preset small --warmup-steps 50
#
# Any `musenet train` flag may follow; later flags win (e.g. --device cpu for a dry run without a GPU).
set -euo pipefail
OUT=${OUT:-out/gpu}
DATA=${DATA:-.gpu/data}
BUDGET_S=${BUDGET_S:-420}
PYTHON=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT"
RUN=$(mktemp -d /tmp/musenet-run-XXXXXX)
rmdir "$RUN"  # the trainer creates it; a folder that exists must hold no checkpoint
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
    "$PYTHON" -c "import torch, numpy, safetensors, tqdm; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numpy', numpy.__version__)"
} 2>&1 | tee "$OUT/train.log"
"$PYTHON" -m musenet.train.burst train --data "$DATA" --out "$RUN" --export "$OUT/run" --budget-s "$BUDGET_S" \
    --device cuda --dtype bf16 --data-workers "${DATA_WORKERS:-12}" "$@" 2>&1 | tee -a "$OUT/train.log"
