#!/bin/bash
# Study 2 (round 3, after per-sample seeds and prefix reuse): 24/48-token budgets (the probes' 11% retry-fix setting),
# 64 mined problems, 8 reflection-only GRPO steps per arm, the recipe otherwise unchanged. Two lanes on two cores.
set -u
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
R3=/work/main/.venv/bin/r3; PY=/work/main/.venv/bin/python
M=/work/models/smollm2-135m-instruct
RECIPE=/work/main/configs/smollm2_cpu.yaml
T=0.7; STEPS=8
B="--attempt_max_new_tokens 24 --reflection_max_new_tokens 48 --temperature $T --seed 0"
EV="--task arithmetic --data data/heldout_23_20.jsonl $B --batch_size 100 --progress false"
TRAIN="--model $M --data runs/mine --temperature $T --attempt_max_new_tokens 24 --reflection_max_new_tokens 48 --max_steps $STEPS --save_steps $STEPS --seed 0"
timed() { name=$1; shift; /usr/bin/time -f "$name cpu_user=%U cpu_sys=%S wall=%e" nice -n 2 "$@" > logs/$name.log 2>&1; tail -1 logs/$name.log >> stage_times.txt; }
lane_a() {
  timed eval_before $R3 eval --model $M $EV --out runs/eval_before
  while [ ! -f runs/train/model.safetensors ]; do sleep 10; done
  timed control $PY -m r3.demo.control --config $RECIPE $TRAIN --output_dir runs/control
  timed eval_control $R3 eval --model runs/control $EV --out runs/eval_control
}
lane_b() {
  timed mine $R3 mine --model $M --task arithmetic --data data/train_23_20.jsonl --limit 64 --max_samples 1 --keep 1 --attempt_max_new_tokens 24 --temperature $T --seed 0 --batch_size 64 --progress false --out runs/mine
  timed train $R3 train --config $RECIPE $TRAIN --output_dir runs/train
  timed eval_after $R3 eval --model runs/train $EV --out runs/eval_after
}
lane_a & lane_b & wait
echo STUDY DONE >> stage_times.txt
