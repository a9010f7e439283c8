#!/bin/bash
# The end of the study under the deadline: after the reflection-only training (pid given), the control training and
# the evaluation of the trained model run side by side (two jobs at once, each one thread, nice 5), then the control's
# evaluation. Same commands as study.sh.
cd /work/study
while kill -0 $1 2>/dev/null; do sleep 5; done
tail -1 logs/train.log >> stage_times.txt
T=0.7; STEPS=4
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=/work/study/snap/src
PY=/work/main/.venv/bin/python
M=/work/models/smollm2-135m-instruct
RECIPE=/work/study/snap/src/r3/configs/smollm2_cpu.yaml
B="--attempt_max_new_tokens 16 --reflection_max_new_tokens 32 --temperature $T --seed 0"
timed() { name=$1; shift; /usr/bin/time -f "$name cpu_user=%U cpu_sys=%S wall=%e" nice -n 5 "$@" > logs/$name.log 2>&1; tail -1 logs/$name.log >> stage_times.txt; }
TRAIN="--model $M --data runs/mine --temperature $T --max_steps $STEPS --save_steps $STEPS --seed 0"
EV="--task arithmetic --data data/heldout_23_20.jsonl $B --batch_size 300 --no_progress"
[ -f runs/train/model.safetensors ] && { timed eval_after $PY -m r3 eval --model runs/train $EV --out runs/eval_after & }
rm -rf runs/control; timed control $PY -m r3.demo.control --config $RECIPE $TRAIN --output_dir runs/control
timed eval_control $PY -m r3 eval --model runs/control $EV --out runs/eval_control
wait
echo STUDY DONE >> stage_times.txt
