"""Runs for the page tests: two real `r3 eval` runs and an `r3 mine` run of countdown, made by a scripted generator,
and a training directory in the files `r3 train` writes (metrics, samples, summary, TRL's completions table)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import r3
from r3.evaluation.config import EvalConfig
from r3.mining.config import MineConfig
from r3.tasks import get_task
from r3.types import Completion

N_PROBLEMS = 12
HOSTILE = '<script>window.__pwned = 1</script></div><img src=x onerror="window.__pwned = 2"><|im_end|>'
LONG = "Let me check every step again. " * 80  # ~2,500 characters: starts collapsed


def puzzle(k: int) -> dict:
    return {"id": f"p{k}", "nums": [k + 2, 3, 4], "target": k + 9}


def right(k: int) -> str:
    return f"<answer>{k + 2} + 3 + 4</answer>"


def wrong(k: int) -> str:
    return f"<answer>{k + 2} * 3 * 4</answer>"


class ScriptedGenerator:
    """Problem k: the first attempt is right when k % 4 == 0; the retry is right when `retry_right(k)`.
    Reflections: problem 2's is hostile markup, problem 3's is long, the others are short."""

    def __init__(self, retry_right):
        self.retry_right = retry_right
        task = get_task("countdown")
        self.index = {task.prompt(task.normalize(puzzle(k)))[-1]["content"]: k for k in range(N_PROBLEMS)}

    def generate(self, prompts, params, seeds=None):
        out = []
        for messages in prompts:
            k = self.index[next(m["content"] for m in messages if m["role"] == "user")]
            turns = sum(m["role"] == "assistant" for m in messages)
            if turns == 1:  # the reflection
                text = HOSTILE if k == 2 else LONG if k == 3 else f"I multiplied instead of adding ({k})."
            elif turns == 0:
                text = right(k) if k % 4 == 0 else wrong(k)
            else:
                text = right(k) if self.retry_right(k) else wrong(k)
            out.append([Completion(text, num_tokens=len(text.split()))])
        return out


def _evaluate(data: Path, out: Path, retry_right) -> Path:
    config = EvalConfig(model="scripted", task="countdown", data=str(data), out=str(out), batch_size=5,
                        progress=False)
    r3.evaluate(config, generator=ScriptedGenerator(retry_right))
    return out


def _train_dir(out: Path) -> Path:
    """A training run's files as r3 train writes them (the model itself is not needed to view the run)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir()
    (out / "run.json").write_text(json.dumps({"r3_run": {"kind": "train", "version": 1, "files": [], "dirs": []}}))
    metrics = [{"step": s, "r3/retry_success": 0.1 * s, "r3/reflection_tokens": 30 - s, "frac_reward_zero_std": 0.5,
                "loss": 0.01} for s in (1, 2, 3)]
    (out / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    # samples.jsonl at steps 1 and 2; TRL's table (below) at steps 1 and 3: step 1's samples repeat the table's
    samples = [{"step": s, "problem_id": f"p{s}", "reflection": f"sample reflection at step {s}",
                "retry": wrong(s), "correct": False, "reason": "evaluates to 1, not 2"} for s in (1, 2)]
    (out / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    summary = {"steps": 3, "first_step": 0, "seconds": 3.0, "model_changed": True, "retry_success_start": None,
               "retry_success_end": None, "start_steps": [1, 1], "end_steps": [3, 3], "reflection_tokens_start": 29,
               "reflection_tokens_end": 27, "eval_command": "",
               "alarms": [{"name": "zero_spread", "step": 2, "message": "every group got the same reward"}]}
    (out / "train_summary.json").write_text(json.dumps(summary))
    (out / "completions").mkdir()
    for step in (1, 3):
        prompt = [{"role": "user", "content": f"problem at step {step}"},
                  {"role": "assistant", "content": wrong(step)}, {"role": "user", "content": "Reflect."}]
        table = {"step": [step] * 2, "prompt": [prompt] * 2,
                 "completion": [[{"role": "assistant", "content": f"completion {step}-{i}"}] for i in range(2)],
                 "retry_success": [1.0, 0.0], "retry": [right(step), wrong(step)], "retry_correct": [True, False],
                 "retry_reason": ["correct", "evaluates to 24, not 9"], "advantage": [0.7, -0.7]}
        pq.write_table(pa.table(table), out / "completions" / f"completions_{step:05d}.parquet")
    return out


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """before / after: the same 12 problems; after fixes problems 2 and 6 and breaks problem 5."""
    root = tmp_path_factory.mktemp("view-runs")
    data = root / "puzzles.jsonl"
    data.write_text("".join(json.dumps(puzzle(k)) + "\n" for k in range(N_PROBLEMS)))
    before = _evaluate(data, root / "before", lambda k: k % 4 == 1)
    after = _evaluate(data, root / "after", lambda k: (k % 4 == 1 and k != 5) or k in (2, 6))
    mine = root / "mine"
    r3.mine(MineConfig(model="scripted", task="countdown", data=str(data), out=str(mine), max_samples=2, keep=2,
                       progress=False), generator=ScriptedGenerator(lambda k: False))
    return {"before": before, "after": after, "mine": mine, "train": _train_dir(root / "train"), "data": data}
