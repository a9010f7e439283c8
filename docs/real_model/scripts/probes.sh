#!/bin/bash
# Base-rate probes on 100 problems each (seed-1 probe set, disjoint from the seed-2 training pool and seed-1000 held-out set).
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
R3="/work/main/.venv/bin/python -m r3"; export PYTHONPATH=/work/study/snap/src
M=/work/models/smollm2-135m-instruct
run() { name=$1; shift; /usr/bin/time -f "$name cpu_user=%U cpu_sys=%S wall=%e" nice -n 5 $R3 eval --model $M --task arithmetic --limit 100 --attempt_max_new_tokens 24 --reflection_max_new_tokens 48 --batch_size 50 --no_progress --out probe/$name "$@" > probe_$name.log 2>&1; tail -1 probe_$name.log >> probe_times.txt; }
run a23_t07_v2 --data data/probe_23_20.jsonl --temperature 0.7
run a23_t03_v2 --data data/probe_23_20.jsonl --temperature 0.3
run a2pm_t07_v2 --data data/probe_2_addsub.jsonl --temperature 0.7
run a23_t10_v2 --data data/probe_23_20.jsonl --temperature 1.0
