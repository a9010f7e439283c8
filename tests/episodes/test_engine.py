"""The episode engine against a scripted stand-in generator that records every generate call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from r3.episodes import EpisodeConfig, run_episodes
from r3.episodes.engine import episode_seed
from r3.errors import R3Error
from r3.evaluation.stats import summarize
from r3.tasks.base import Task
from r3.types import Completion, Message, SamplingParams, Verdict

REFLECT = "REFLECT because {reason}"
RETRY = "RETRY"


class EchoTask(Task):
    """Problem `q` is solved by the text `answer`; the prompt names the problem so the generator can script it."""

    name = "echo"
    fields = ("q", "answer")
    reflection_instruction = REFLECT
    retry_instruction = RETRY

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        return row

    def prompt(self, example: dict[str, Any]) -> list[Message]:
        return [{"role": "user", "content": example["q"]}]

    def verify(self, example: dict[str, Any], completion: str) -> Verdict:
        if completion == example["answer"]:
            return Verdict(True, "ok")
        return Verdict(False, f"{completion} is not the answer")


class ScriptedGenerator:
    """Answers attempt k of problem q with `script[q][k-1]` (repeating the last entry), reflections with a fixed
    text; records each call's prompts and params."""

    def __init__(self, script: dict[str, list[str]]):
        self.script = script
        self.calls: list[tuple[list[list[Message]], SamplingParams]] = []

    def generate(self, prompts: Sequence[Sequence[Message]], params: SamplingParams) -> list[list[Completion]]:
        self.calls.append(([list(p) for p in prompts], params))
        out = []
        for messages in prompts:
            problem = messages[0]["content"]
            spoken = sum(m["role"] == "assistant" for m in messages)  # attempts and reflections so far
            if messages[-1]["content"].startswith("REFLECT"):
                text = f"reflection {(spoken + 1) // 2} on {problem}"
            else:
                answers = self.script[problem]
                text = answers[min(spoken // 2 + 1, len(answers)) - 1]
            out.append([Completion(text, num_tokens=len(text.split()))])
        return out

    def phases(self) -> list[str]:
        """Kind of each call: 'attempt', 'reflect' or 'retry', by the last message of its first prompt."""
        kinds = []
        for prompts, _ in self.calls:
            last = prompts[0][-1]["content"]
            kinds.append("reflect" if last.startswith("REFLECT") else "retry" if last == RETRY else "attempt")
        return kinds


def _examples(n: int) -> list[dict[str, Any]]:
    return [{"q": f"q{i}", "answer": f"a{i}"} for i in range(n)]


def _collect(task, generator, examples, config, **kwargs):
    batches = list(run_episodes(task, generator, examples, config, **kwargs))
    return batches, [episode for batch in batches for episode in batch]


def test_solved_first_attempt_gets_no_reflection_and_failure_gets_one_per_round():
    script = {"q0": ["a0"], "q1": ["wrong", "a1"], "q2": ["wrong"]}
    generator = ScriptedGenerator(script)
    _, episodes = _collect(EchoTask(), generator, _examples(3), EpisodeConfig(max_attempts=2, batch_size=8))
    solved, fixed, failed = episodes
    assert [len(e.attempts) for e in episodes] == [1, 2, 2]
    assert [len(e.reflections) for e in episodes] == [0, 1, 1]
    assert solved.solved_at == 1 and fixed.solved_at == 2 and failed.solved_at is None
    assert fixed.reflections[0].text == "reflection 1 on q1"
    assert fixed.attempts[0].verdict == Verdict(False, "wrong is not the answer")
    assert fixed.attempts[1].verdict.correct
    # one call per phase: attempts of all 3, reflections of the 2 failures, retries of the same 2
    assert generator.phases() == ["attempt", "reflect", "retry"]
    assert [len(prompts) for prompts, _ in generator.calls] == [3, 2, 2]


def test_reflection_prompt_carries_the_verdict_reason_and_retry_carries_the_reflection():
    generator = ScriptedGenerator({"q0": ["wrong", "a0"]})
    _collect(EchoTask(), generator, _examples(1), EpisodeConfig())
    reflect_prompt = generator.calls[1][0][0]
    assert reflect_prompt == [
        {"role": "user", "content": "q0"},
        {"role": "assistant", "content": "wrong"},
        {"role": "user", "content": "REFLECT because wrong is not the answer"},
    ]
    retry_prompt = generator.calls[2][0][0]
    assert retry_prompt[-2:] == [
        {"role": "assistant", "content": "reflection 1 on q0"},
        {"role": "user", "content": RETRY},
    ]


def test_instruction_overrides_replace_the_tasks():
    generator = ScriptedGenerator({"q0": ["wrong"]})
    config = EpisodeConfig(reflection_instruction="REFLECT harder", retry_instruction="RETRY")
    _collect(EchoTask(), generator, _examples(1), config)
    assert generator.calls[1][0][0][-1]["content"] == "REFLECT harder"


def test_k_attempts_run_k_minus_one_rounds_and_stop_solved_episodes():
    script = {"q0": ["x", "a0"], "q1": ["x", "x", "x", "a1"], "q2": ["x"], "q3": ["a3"]}
    generator = ScriptedGenerator(script)
    _, episodes = _collect(EchoTask(), generator, _examples(4), EpisodeConfig(max_attempts=4, batch_size=4))
    assert [e.solved_at for e in episodes] == [2, 4, None, 1]
    assert [len(e.attempts) for e in episodes] == [2, 4, 4, 1]
    assert all(len(e.reflections) == len(e.attempts) - 1 for e in episodes)
    assert [r.text for r in episodes[1].reflections] == [f"reflection {k} on q1" for k in (1, 2, 3)]
    last_retry_prompt = generator.calls[-1][0][0]  # q1's third retry sees the whole history
    assert [m["content"] for m in last_retry_prompt if m["role"] == "assistant"] == [
        "x", "reflection 1 on q1", "x", "reflection 2 on q1", "x", "reflection 3 on q1"
    ]
    assert generator.phases() == ["attempt"] + ["reflect", "retry"] * 3
    # round 1: q0 q1 q2 unsolved; rounds 2 and 3: q1 q2
    assert [len(prompts) for prompts, _ in generator.calls] == [4, 3, 3, 2, 2, 2, 2]


def test_all_solved_batch_makes_a_single_call():
    generator = ScriptedGenerator({f"q{i}": [f"a{i}"] for i in range(5)})
    _collect(EchoTask(), generator, _examples(5), EpisodeConfig(max_attempts=3, batch_size=5))
    assert generator.phases() == ["attempt"]


def test_batches_keep_order_and_problem_ids_and_call_once_per_phase_per_batch():
    examples = [{"q": f"q{i}", "answer": f"a{i}", "id": f"p-{i}"} for i in range(7)]
    generator = ScriptedGenerator({f"q{i}": ["a0" if i % 2 else f"a{i}"] for i in range(7)})
    batches, episodes = _collect(EchoTask(), generator, examples, EpisodeConfig(batch_size=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [e.index for e in episodes] == list(range(7))
    assert [e.problem_id for e in episodes] == [f"p-{i}" for i in range(7)]
    assert [e.example["q"] for e in episodes] == [f"q{i}" for i in range(7)]
    # batch 1 (q0 q1 q2): q1 fails -> 3 calls; batch 2 (q3 q4 q5): q3 q5 fail -> 3 calls; batch 3 (q6) solved -> 1
    assert generator.phases() == ["attempt", "reflect", "retry"] * 2 + ["attempt"]
    assert [len(p) for p, _ in generator.calls] == [3, 1, 1, 3, 2, 2, 1]


def test_start_index_resumes_with_the_same_indices_and_ids():
    examples = _examples(5)
    generator = ScriptedGenerator({f"q{i}": [f"a{i}"] for i in range(5)})
    ids = [f"id{i}" for i in range(5)]
    _, episodes = _collect(EchoTask(), generator, examples, EpisodeConfig(batch_size=2), start_index=3,
                           problem_ids=ids)
    assert [(e.index, e.problem_id) for e in episodes] == [(3, "id3"), (4, "id4")]
    assert [p[0]["content"] for p in generator.calls[0][0]] == ["q3", "q4"]


def test_default_problem_id_is_the_position():
    generator = ScriptedGenerator({"q0": ["a0"], "q1": ["a1"]})
    _, episodes = _collect(EchoTask(), generator, _examples(2), EpisodeConfig())
    assert [e.problem_id for e in episodes] == ["0", "1"]


def test_sampling_params_reach_each_phase_with_per_phase_seeds():
    attempt = SamplingParams(temperature=0.7, max_new_tokens=11, seed=5)
    reflection = SamplingParams(temperature=0.3, max_new_tokens=22, seed=5)
    generator = ScriptedGenerator({"q0": ["x"]})
    _collect(EchoTask(), generator, _examples(1), EpisodeConfig(attempt_params=attempt, reflection_params=reflection))
    used = [params for _, params in generator.calls]
    assert [p.max_new_tokens for p in used] == [11, 22, 11]  # retry defaults to the attempt's params
    assert [p.temperature for p in used] == [0.7, 0.3, 0.7]
    assert len({p.seed for p in used}) == 3


class SeededGenerator(ScriptedGenerator):
    """A scripted generator that takes per-prompt seeds and records them."""

    def __init__(self, script):
        super().__init__(script)
        self.seeds: list[list[int]] = []

    def generate(self, prompts, params, seeds=None):
        self.seeds.append(list(seeds))
        return super().generate(prompts, params)


def test_per_sample_seeds_depend_on_episode_and_phase_not_on_batch():
    params = SamplingParams(seed=5)
    script = {f"q{i}": ["x", "x"] for i in range(5)}
    seen = {}
    for batch_size in (2, 5):
        generator = SeededGenerator(script)
        _collect(EchoTask(), generator, _examples(5), EpisodeConfig(batch_size=batch_size, attempt_params=params,
                                                                        reflection_params=params))
        assert all(p.seed == 5 for _, p in generator.calls)  # the call seed is not used when seeds are
        by_prompt = {}
        for (prompts, _), seeds in zip(generator.calls, generator.seeds):
            for prompt, seed in zip(prompts, seeds):
                by_prompt.setdefault(prompt[0]["content"], []).append(seed)
        seen[batch_size] = by_prompt
    assert seen[2] == seen[5]  # each episode's three samples drew with the same seeds in both batchings
    all_seeds = [seed for seeds in seen[2].values() for seed in seeds]
    assert len(set(all_seeds)) == 15 and all(0 <= s < 2**63 for s in all_seeds)
    assert seen[2]["q0"][0] == episode_seed(5, "0", 0, 0)


def test_within_two_counts_first_attempt_successes():
    script = {"q0": ["a0"], "q1": ["x", "a1"], "q2": ["x"], "q3": ["a3"]}
    _, episodes = _collect(EchoTask(), ScriptedGenerator(script), _examples(4), EpisodeConfig())
    summary = summarize(episodes, max_attempts=2)
    assert summary["first_attempt"]["correct"] == 2
    assert summary["within_two"]["correct"] == 3
    assert summary["reflection_successes"] == 1


def test_config_rejects_nonsense():
    with pytest.raises(R3Error):
        EpisodeConfig(max_attempts=0)
    with pytest.raises(R3Error):
        EpisodeConfig(attempt_params=SamplingParams(n=4))


def test_generator_breaking_the_protocol_is_caught():
    class Short(ScriptedGenerator):
        def generate(self, prompts, params):
            return super().generate(prompts, params)[:-1]

    with pytest.raises(RuntimeError, match="samples for 2 prompts"):
        _collect(EchoTask(), Short({"q0": ["a0"], "q1": ["a1"]}), _examples(2), EpisodeConfig())


def test_strip_reasoning_shows_earlier_turns_without_their_think_block() -> None:
    thought = "<think>\nmaybe 3\n</think>\n\n3"
    examples = [{"q": "q0", "answer": "4"}]
    for strip, shown in ((False, thought), (True, "3")):
        generator = ScriptedGenerator({"q0": [thought, "4"]})
        config = EpisodeConfig(max_attempts=2, strip_reasoning=strip)
        (batch,) = run_episodes(EchoTask(), generator, examples, config)
        assert batch[0].attempts[0].text == thought  # the episode keeps what the model wrote
        reflection_prompt = generator.calls[1][0][0]
        assert reflection_prompt[1] == {"role": "assistant", "content": shown}
