"""Forgetting check: a model before and after training on standard benchmarks, through lm-evaluation-harness.

    r3 forgetting --base M0 --trained M1 --out runs/forgetting

`run_forgetting(ForgettingPlan(...))` is the Python entry point; see docs/forgetting.md.
"""

from r3.forgetting.benchmarks import BUILTIN_DEFAULTS, DEFAULT_BENCHMARKS, BenchmarkSettings, settings_for
from r3.forgetting.check import ForgettingPlan, ForgettingResult, run_forgetting
from r3.forgetting.harness import ModelOptions

__all__ = [
    "BUILTIN_DEFAULTS",
    "DEFAULT_BENCHMARKS",
    "BenchmarkSettings",
    "ForgettingPlan",
    "ForgettingResult",
    "ModelOptions",
    "run_forgetting",
    "settings_for",
]
