#!/bin/bash
# The temperature probes queued after the study: T=0.3 and T=1.0, same problems and budgets as the T=0.7 probe.
cd /work/study
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=/work/study/snap/src
R3="/work/main/.venv/bin/python -m r3"
M=/work/models/smollm2-135m-instruct
for T in 0.3 1.0; do
  n=a23_t${T/./}_v2
  /usr/bin/time -f "$n cpu_user=%U cpu_sys=%S wall=%e" nice -n 5 $R3 eval --model $M --task arithmetic --limit 100 --attempt_max_new_tokens 24 --reflection_max_new_tokens 48 --batch_size 100 --no_progress --out probe/$n --data data/probe_23_20.jsonl --temperature $T > probe_$n.log 2>&1
  tail -1 probe_$n.log >> probe_times.txt
done
