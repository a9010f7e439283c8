#!/bin/bash
# The study: mine -> train (reflection-only GRPO) -> control (same recipe, retry rewarded, no reflection) -> evals.
# Every stage is skipped when its output is finished, so a rerun resumes. Usage: tools/study.sh TEMP STEPS
set -u
T=${1:-0.7}; STEPS=4  # cut from 24 to 8 to 4 as the shared machine gave this job ~25% of a core
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=/work/study/snap/src
PY=/work/main/.venv/bin/python
M=/work/models/smollm2-135m-instruct
RECIPE=/work/study/snap/src/r3/configs/smollm2_cpu.yaml
B="--attempt_max_new_tokens 16 --reflection_max_new_tokens 32 --temperature $T --seed 0"
timed() { name=$1; shift; /usr/bin/time -f "$name cpu_user=%U cpu_sys=%S wall=%e" nice -n 5 "$@" > logs/$name.log 2>&1; tail -1 logs/$name.log >> stage_times.txt; }
mkdir -p logs runs
[ -f runs/mine/stats.json ] || timed mine $PY -m r3 mine --model $M --task arithmetic --data data/train_23_20.jsonl --limit 40 --max_samples 1 --keep 1 --attempt_max_new_tokens 16 --temperature $T --seed 0 --batch_size 80 --no_progress --out runs/mine
TRAIN="--model $M --data runs/mine --temperature $T --max_steps $STEPS --save_steps $STEPS --seed 0"
[ -f runs/train/model.safetensors ] || { rm -rf runs/train; timed train $PY -m r3 train --config $RECIPE $TRAIN --output_dir runs/train; }
[ -f runs/control/model.safetensors ] || { rm -rf runs/control; timed control $PY -m r3.demo.control --config $RECIPE $TRAIN --output_dir runs/control; }
EV="--task arithmetic --data data/heldout_23_20.jsonl $B --batch_size 300 --no_progress"
[ -f runs/eval_before/summary.json ] || timed eval_before $PY -m r3 eval --model $M $EV --out runs/eval_before
[ -f runs/eval_after/summary.json ] || timed eval_after $PY -m r3 eval --model runs/train $EV --out runs/eval_after
[ -f runs/eval_control/summary.json ] || timed eval_control $PY -m r3 eval --model runs/control $EV --out runs/eval_control
echo STUDY DONE >> stage_times.txt
