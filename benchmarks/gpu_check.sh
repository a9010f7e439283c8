#!/usr/bin/env bash
# The r3 GPU check on a machine with one CUDA GPU, torch / transformers / accelerate / peft installed and no network.
# TRL, datasets (+ dill, multiprocess) and the transformers release r3 is tested with travel as wheels in .whl/;
# r3 itself runs from the checkout (PYTHONPATH=src). From the repository root:
#
#   bash benchmarks/gpu_check.sh TOKENIZER_DIR [more benchmarks/gpu_check.py options]
#
# TOKENIZER_DIR: a real tokenizer folder with its config.json (e.g. a copy of
# ../shared/real/tokenizers/qwen2.5-0.5b-instruct in an ignored folder that travels with the checkout).
# Writes gpu_check.md (the table), gpu_check.log and nvidia-smi.txt to $OUT (default runs/gpu_check).
# How the wheels were made (here, Python 3.12 on the GPU machine): see docs/benchmarks/gpu.md.
set -u
tokenizer=${1:?usage: bash benchmarks/gpu_check.sh TOKENIZER_DIR [gpu_check.py options]}
shift
out=${OUT:-runs/gpu_check}
site=/tmp/r3-site
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl \
    || { echo "gpu_check.sh: installing the wheels in .whl/ failed"; exit 1; }
export PYTHONPATH="$site:src" PYTHONUNBUFFERED=1 TRL_EXPERIMENTAL_SILENCE=1 TOKENIZERS_PARALLELISM=false
if ! python3 -c "from trl import GRPOTrainer; import datasets" 2>"$out/import_error.txt"; then
    # The carried transformers may need newer packages than the machine has: fall back to the machine's own.
    echo "gpu_check.sh: TRL does not import with the carried transformers ($(tail -1 "$out/import_error.txt"));" \
         "retrying with the machine's transformers"
    rm -rf "$site"/transformers "$site"/transformers-*.dist-info
    python3 -c "from trl import GRPOTrainer" || echo "gpu_check.sh: TRL still does not import: training will fail"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/nvidia-smi.txt"
python3 benchmarks/gpu_check.py --tokenizer-dir "$tokenizer" --out "$out/gpu_check.md" "$@" 2>&1 \
    | tee "$out/gpu_check.log"
exit "${PIPESTATUS[0]}"
