"""`r3 demo` settings: one dataclass, parsed like every command's (`r3.config.parser`).

    r3 demo                                                   # the published run: seed 0, 500 held-out puzzles
    r3 demo --test-puzzles 50 --mine-puzzles 20 --steps 5 --out runs/demo-quick

The demo's defaults are the settings of its published table (docs/demo.md), so two of them differ from the other
commands' on purpose: `seed` 0 (the seed the table was measured with) and `attempt_max_new_tokens` 24 (a demo-model
answer is ~11 tokens; 48 for a model that shows its work).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from r3.config import CommandConfig, option

DEMO_RECIPE = "configs/demo_cpu.yaml"


@dataclass
class DemoConfig(CommandConfig):
    """What the demo runs on. `steps` None means the recipe's `max_steps`.

    `threads` is torch's intra-op thread count for the whole run. One is right for a model this small: it gains
    nothing from splitting its small matrix products, and on a busy machine two threads spend most of their time
    waiting for each other (generation measured 4-8x slower with 2 threads than with 1 while other jobs ran).
    """

    out: str = option("runs/demo", "output directory (a rerun resumes after the last finished stage)")
    model: str | None = option(None, "demo model directory (default: the model shipped with r3)")
    recipe: str = option(DEMO_RECIPE, "r3 train recipe (default: the one shipped with r3; for a .gguf model "
                                      "configs/smollm2_cpu.yaml); its task and temperature apply to every stage")
    seed: int = option(0, "seed of puzzles, sampling and training (the published table: 0)")
    test_puzzles: int = option(500, "held-out puzzles to evaluate on")
    mine_puzzles: int = option(300, "puzzles to mine failures from")
    max_samples: int = option(8, "mining: sample budget per puzzle")
    keep: int = option(2, "mining: failed attempts kept per puzzle")
    steps: int | None = option(None, "training steps (default: the recipe's max_steps)")
    batch_size: int = option(128, "problems per generate call in eval and mine")
    control: bool = option(False, "also train and evaluate the control arm (reflection left out, same budget)")
    threads: int = option(1, "torch threads (a tiny model gains nothing from more)")
    attempt_max_new_tokens: int = option(24, "token budget of an attempt (48 for a demo model built with "
                                              "--first-attempts greedy_worked or worked)")
    reflection_max_new_tokens: int = option(32, "token budget of a reflection")
    overwrite: bool = option(False, "delete what an earlier demo run wrote in --out and start again")
    progress: bool = option(True, "show progress bars")

    NOT_IDENTITY = ("overwrite", "progress", "out")

    def __post_init__(self) -> None:
        super().__post_init__()
        from r3.errors import R3Error

        for name in ("test_puzzles", "mine_puzzles", "steps", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise R3Error(f"field '{name}' must be at least 1, got {value}")

    @property
    def model_dir(self) -> Path:
        from r3.demo.model import MODEL_DIR

        return Path(self.model) if self.model else MODEL_DIR

    @property
    def recipe_path(self) -> Path:
        from r3.config import packaged_config
        from r3.demo.real import REAL_RECIPE
        from r3.models import is_gguf

        recipe = REAL_RECIPE if self.recipe == DEMO_RECIPE and self.model and is_gguf(self.model) else self.recipe
        path = Path(recipe)
        return path if path.exists() else (packaged_config(path) or path)
