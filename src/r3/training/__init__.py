"""Reflection-only GRPO training on TRL (`r3 train`).

    from r3.training import load_train_config, run_training
    config, training = load_train_config("configs/tiny_cpu.yaml", ["--max_steps", "10"])
    run_training(config, training)

Modules: config (TrainConfig + GRPOConfig from YAML), data (training rows from `r3 mine` output or task data),
reward (the retry reward), online (first attempts during training), trainer (GRPOTrainer wiring, saving),
trl_adapter (every private TRL call). See docs/training.md.
"""

from r3.training.config import TrainConfig, load_train_config

__all__ = ["TrainConfig", "load_train_config", "run_training"]


def __getattr__(name: str):
    if name == "run_training":  # imported lazily: it pulls in torch, transformers and trl
        from r3.training.trainer import run_training

        return run_training
    raise AttributeError(name)
