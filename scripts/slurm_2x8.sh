#!/usr/bin/env bash
# The paper pipeline for one recipe on 2 nodes x 8 GPUs under SLURM: mine (16 shards, one per GPU, merged by the
# last one), train (ZeRO-3 over 16 processes), evaluate (16 shards, merged). docs/scaling.md explains each step.
#
#   sbatch scripts/slurm_2x8.sh countdown qwen2.5-7b-instruct Qwen/Qwen2.5-7B-Instruct
#
# Arguments: TASK (countdown | function_calling), RECIPE (a file name in configs/TASK/ without .yaml), HUB_ID.
# The data splits are the ones docs/scaling.md uses: the last 15,000 Countdown / 12,000 xLAM rows are held out.
#SBATCH --job-name=r3
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --exclusive
#SBATCH --output=runs/slurm-%j.out
set -euo pipefail
task=${1:?TASK}; recipe=${2:?RECIPE}; model=${3:?HUB_ID}
case "$task" in
    countdown) train_split="train[:475364]"; test_split="train[475364:]" ;;
    function_calling) train_split="train[:48000]"; test_split="train[48000:]" ;;
    *) echo "unknown task $task" >&2; exit 2 ;;
esac
export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
mine_out=runs/mine/$task/$recipe eval_out=runs/eval/$task/$recipe

# 1. Mining: 16 shards, one process per GPU (CUDA_VISIBLE_DEVICES: each vLLM engine gets its own GPU).
srun --ntasks-per-node=1 bash -c '
for gpu in 0 1 2 3 4 5 6 7; do
    shard=$((SLURM_NODEID * 8 + gpu))
    CUDA_VISIBLE_DEVICES=$gpu r3 mine --model '"$model"' --task '"$task"' --split "'"$train_split"'" \
        --max_samples 64 --backend vllm --out '"$mine_out"' --num_shards 16 --shard_index $shard --progress false &
done; wait'
test -f "$mine_out/failures.jsonl" || r3 mine merge "$mine_out"   # the last shard merges; this is the fallback

# 2. Training: ZeRO-3 over 16 processes, batch 16 x 8 x 2 = 256.
srun --ntasks-per-node=1 bash -c '
accelerate launch --config_file configs/accelerate/multi_node_zero3.yaml --machine_rank $SLURM_NODEID \
    --main_process_ip '"$MASTER_ADDR"' --main_process_port 29500 \
    -m r3 train --config configs/'"$task/$recipe"'.yaml --gradient_accumulation_steps 2'

# 3. Evaluation of the trained model: 16 shards, merged.
srun --ntasks-per-node=1 bash -c '
for gpu in 0 1 2 3 4 5 6 7; do
    shard=$((SLURM_NODEID * 8 + gpu))
    CUDA_VISIBLE_DEVICES=$gpu r3 eval --model runs/train/'"$task/$recipe"' --task '"$task"' \
        --split "'"$test_split"'" --backend vllm --out '"$eval_out"' --num_shards 16 --shard_index $shard \
        --progress false &
done; wait'
test -f "$eval_out/summary.json" || r3 eval merge "$eval_out"
