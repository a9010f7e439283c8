"""`r3 train`: reflection-only GRPO from a YAML recipe, any field overridable on the command line.

    r3 train --config configs/tiny_cpu.yaml
    r3 train --config configs/countdown/qwen2.5-1.5b-instruct.yaml --data runs/mine --max-steps 100
    accelerate launch --config_file configs/accelerate/multi_gpu_zero3.yaml -m r3 train --config FILE

r3's fields (TrainConfig) and TRL's GRPOConfig fields share one namespace; `--help` lists both. See docs/training.md.
"""

from __future__ import annotations

HELP = "train a model to reflect (reflection-only GRPO on TRL); --config FILE plus any --field value"


def parser():
    from r3.training.config import train_parser

    return train_parser()


def main(argv: list[str]) -> int:
    from r3.training.config import load_train_config

    if any(token in ("-h", "--help") for token in argv):
        parser().print_help()
        return 0
    config, training = load_train_config(None, argv, check_model=True)  # every setting checked before TRL loads

    from r3 import api

    output_dir = api.train(config, training)
    if training.process_index == 0:
        print(f"the trained model and tokenizer are in {output_dir}")  # also after a rerun of a finished run
    return 0
