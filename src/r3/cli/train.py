"""`r3 train`: reflection-only GRPO from a YAML recipe, any field overridable on the command line.

    r3 train --config configs/tiny_cpu.yaml
    r3 train --config configs/countdown/qwen2.5-1.5b-instruct.yaml --data runs/mine --max_steps 100
    accelerate launch --config_file configs/accelerate/multi_gpu_zero3.yaml -m r3 train --config FILE

See docs/training.md.
"""

from __future__ import annotations

import argparse

HELP = "train a model to reflect (reflection-only GRPO); r3 train --config FILE [--field value ...]"
TAKES_EXTRA_ARGUMENTS = True  # `--field value` overrides of config fields

EPILOG = """\
overrides: any field of the config (r3's own or TRL's GRPOConfig) as --field value or --field=value; the value is
read as YAML (--bf16 false, --report_to '[tensorboard]'); a bare --field means true; --field.key value sets one key
of a mapping field (--model_init_kwargs.dtype bfloat16). Resume with --resume_from_checkpoint last (or a path).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML recipe (see configs/)")
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def run(args: argparse.Namespace) -> int:
    from r3.training.config import load_config
    from r3.training.trainer import run_training

    config, training = load_config(args.config, args.extra)
    output_dir = run_training(config, training)
    if training.process_index == 0:
        print(f"saved the trained model and tokenizer to {output_dir}")
        print(f"evaluate it with: r3 eval --model {output_dir} --task {config.task} --out {output_dir}/eval")
    return 0
