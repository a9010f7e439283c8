"""r3: Reflect, Retry, Reward (Bensal et al., arXiv 2505.24726).

    import r3
    task = r3.get_task("countdown")
    result = r3.evaluate(r3.load_config("eval", {"model": "runs/tiny", "task": "countdown", "out": "runs/e"}))

Data flows through the subpackages in this order:
tasks (prompt + verify) -> generation (backends) -> episodes (attempt, reflect, retry)
-> mining (failure datasets) -> training (reflection-only GRPO) -> evaluation / forgetting.
The names below are imported on first use, so `import r3` stays fast. See docs/api.md.
"""

__version__ = "0.1.0"

_API = {
    "get_task": "r3.tasks:get_task",
    "load_config": "r3.api:load_config",
    "evaluate": "r3.api:evaluate",
    "mine": "r3.api:mine",
    "train": "r3.api:train",
    "forgetting": "r3.api:forgetting",
    "view": "r3.api:view",
    "EvalConfig": "r3.evaluation.config:EvalConfig",
    "MineConfig": "r3.mining.config:MineConfig",
    "TrainConfig": "r3.training.config:TrainConfig",
    "ForgettingConfig": "r3.forgetting.config:ForgettingConfig",
    "R3Error": "r3.errors:R3Error",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        module, _, attribute = _API[name].partition(":")
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'r3' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
