"""r3.rewards: r3's verifiers as TRL reward functions, and TRL-style reward functions as r3 tasks."""

from __future__ import annotations

import json
import pickle
import re
import textwrap
from pathlib import Path

import pytest

import r3
from r3.errors import R3Error
from r3.rewards import reward_func
from r3.tasks import Task

TRL_EXTRAS = {"trainer_state": None, "log_extra": print, "log_metric": print, "completion_ids": [[1], [2], [3]]}


def test_a_task_as_a_trl_reward_reads_the_dataset_columns_as_its_fields():
    reward = reward_func("countdown")
    assert reward.__name__ == "r3_countdown"  # TRL logs rewards/r3_countdown/mean
    completions = ["<answer>3 + 4</answer>", [{"role": "assistant", "content": "<answer>3 * 4</answer>"}],
                   "<answer>(3 + 4</answer>"]
    rewards = reward(prompts=["p"] * 3, completions=completions, nums=[[3, 4]] * 3, target=[7, 12, 7], **TRL_EXTRAS)
    assert rewards == [1.0, 1.0, 0.0]


def test_columns_map_other_names_and_a_missing_column_is_named():
    reward = reward_func("countdown", columns={"nums": "numbers", "target": "goal"}, name="countdown_ok")
    assert reward.__name__ == "countdown_ok"
    assert reward(completions=["<answer>3+4</answer>"], numbers=[[3, 4]], goal=[7]) == [1.0]
    with pytest.raises(R3Error, match=r"row 0 of the batch: .*'numbers'.*map others with columns"):
        reward(completions=["<answer>3+4</answer>"], nums=[[3, 4]], target=[7])


def test_task_options_reach_the_verifier():
    with pytest.raises(R3Error, match="no_such_option"):
        reward_func("countdown", no_such_option=1)


def exact_answer(completions, answer, **kwargs):
    """A graded TRL-style reward: 1 for the exact answer at the end, 0.5 when it appears anywhere."""
    texts = [c if isinstance(c, str) else c[0]["content"] for c in completions]
    return [1.0 if t.strip().endswith(a) else 0.5 if a in t else 0.0 for t, a in zip(texts, answer, strict=True)]


def short(completions, **kwargs):
    return [1.0 if len(c if isinstance(c, str) else c[0]["content"]) < 20 else 0.0 for c in completions]


def test_a_graded_reward_becomes_a_verifier_through_its_threshold():
    task = Task.from_reward_func(exact_answer, threshold=1.0, fields=["answer"])()
    example = task.normalize({"prompt": "What is 2+2?", "answer": "4"})
    assert task.prompt(example) == [{"role": "user", "content": "What is 2+2?"}]
    assert task.verify(example, "so it is 4").correct
    assert not task.verify(example, "4 is not it").correct  # 0.5 < 1.0
    lenient = Task.from_reward_func(exact_answer, threshold=0.5, fields=["answer"])()
    assert lenient.verify(example, "4 is not it").correct
    with pytest.raises(Exception, match="answer"):
        task.normalize({"prompt": "What is 2+2?"})  # a column the reward reads is required


def test_combined_rewards_are_weighted_and_a_broken_one_is_a_verifier_error():
    def broken(completions, **kwargs):
        raise RuntimeError("reward crashed")

    def not_applicable(completions, **kwargs):
        return [None] * len(completions)

    combined = Task.from_reward_func([exact_answer, short], weights=[1.0, 0.5], threshold=1.5, fields=["answer"])()
    conversational = combined.normalize({"prompt": [{"role": "user", "content": "2+2?"}], "answer": "4"})
    assert combined.prompt(conversational) == [{"role": "user", "content": "2+2?"}]
    assert combined.verify(conversational, "it is 4").correct  # 1.0 + 0.5 * 1.0
    assert not combined.verify(conversational, "after a long think it is 4").correct  # 1.0 + 0
    verdict = Task.from_reward_func([exact_answer, broken], fields=["answer"])().verify(conversational, "4")
    assert not verdict.correct and verdict.error and "reward crashed" in verdict.reason
    assert not Task.from_reward_func(not_applicable)().verify(conversational, "4").correct
    with pytest.raises(R3Error, match="2 weights for 1 reward"):
        Task.from_reward_func(short, weights=[1, 2])


def test_a_reward_task_pickles_for_worker_processes():
    task = Task.from_reward_func(exact_answer, fields=["answer"])()
    copy = pickle.loads(pickle.dumps(task))
    example = copy.normalize({"prompt": "q", "answer": "4"})
    assert copy.verify(example, "4").correct and copy.name == "exact_answer"


DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_plain_trl_grpo_trains_two_steps_on_r3s_verifier_as_docs_api_shows(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch, capsys):
    """docs/api.md's block runs as written: plain GRPOTrainer, 2 steps, rewarded by r3's Countdown verifier."""
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
                if "r3.rewards.reward_func" in b]
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_api_rewards"}
    exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    printed = capsys.readouterr().out.splitlines()
    assert "r3_countdown [1.0, 0.0]" in printed and "True False" in printed
    trainer = namespace["trainer"]
    assert trainer.state.global_step == 2
    logged = [r["rewards/r3_countdown/mean"] for r in trainer.state.log_history if "rewards/r3_countdown/mean" in r]
    assert len(logged) == 2 and all(0.0 <= value <= 1.0 for value in logged)


REWARD_MODULE = '''
    """A user's module: a TRL-style reward function, and the r3 task made from it."""
    from r3.tasks import Task


    def even_length(completions, **kwargs):
        """Graded: 1.0 for an answer of even length, 0.25 otherwise."""
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        return [1.0 if len(t) % 2 == 0 else 0.25 for t in texts]


    EvenTask = Task.from_reward_func(even_length, threshold=1.0)
'''


def test_r3_train_runs_two_steps_on_a_trl_style_reward(tiny_model_dir: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "my_rewards.py").write_text(textwrap.dedent(REWARD_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Say the word {w}."}) + "\n" for w in ("apple", "river")))
    config, training = r3.load_config("train", {
        "task": "my_rewards:EvenTask", "model": str(tiny_model_dir), "data": str(data), "mode": "online",
        "output_dir": str(tmp_path / "out"), "num_generations": 4, "per_device_train_batch_size": 8,
        "reflection_max_new_tokens": 8, "attempt_max_new_tokens": 8, "max_steps": 2, "learning_rate": 1e-2,
        "save_strategy": "no", "report_to": "none", "seed": 0, "use_cpu": True, "logging_steps": 1,
        "dataloader_num_workers": 0, "disable_tqdm": True})
    out = r3.train(config, training)
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 2
    assert summary["provenance"]["packages"]["trl"].startswith("1.16")
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "r3/first_attempt_success" in m] == [1, 2]  # the reward judged attempts
    assert summary["retry_success_end"]["n"] > 0  # ... and the retries after a reflection
