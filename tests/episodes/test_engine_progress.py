"""The engine's progress hooks: a bar can move within a batch (per phase and per decoding step), naming the phase in
progress; and the bar itself: its text, and a position that reaches the total."""

from __future__ import annotations

from test_engine import EchoTask, ScriptedGenerator

from r3.episodes import EpisodeConfig, run_episodes
from r3.episodes.progress import GenerationProgress, PhaseHooks
from r3.types import SamplingParams


class Recorder(PhaseHooks):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def batch_started(self, items, phase_budgets):
        self.events.append(("batch", items, tuple(phase_budgets)))

    def phase_started(self, phase, prompts, budget):
        self.events.append(("start", phase, prompts, budget))

    def on_tokens(self, step, count):
        self.events.append(("tokens", step, count))

    def phase_done(self, phase, prompts):
        self.events.append(("done", phase, prompts))


class SteppingGenerator(ScriptedGenerator):
    """A scripted generator that reports one decoding step per call, as the HF backend does per step."""

    def generate(self, prompts, params, on_tokens=None):
        on_tokens(1, len(prompts))
        return super().generate(prompts, params)


def test_hooks_hear_every_batch_phase_and_step_in_order() -> None:
    examples = [{"q": "a", "answer": "A"}, {"q": "b", "answer": "B"}, {"q": "c", "answer": "C"}]
    generator = SteppingGenerator({"a": ["A"], "b": ["x", "B"], "c": ["x", "x", "x"]})
    hooks = Recorder()
    params = SamplingParams(max_new_tokens=7)
    config = EpisodeConfig(max_attempts=3, batch_size=2, attempt_params=params,
                           reflection_params=SamplingParams(max_new_tokens=3))
    batches = list(run_episodes(EchoTask(), generator, examples, config, hooks=hooks))
    assert len(batches) == 2
    # batch 1 (a, b): a solved at once, b after one reflection -> round 2 skipped; batch 2 (c): never solved
    budgets = (7, 3, 7, 3, 7)
    assert hooks.events == [
        ("batch", 2, budgets),
        ("start", "first attempt", 2, 7), ("tokens", 1, 2), ("done", "first attempt", 2),
        ("start", "reflection 1", 1, 3), ("tokens", 1, 1), ("done", "reflection 1", 1),
        ("start", "retry 1", 1, 7), ("tokens", 1, 1), ("done", "retry 1", 1),
        ("batch", 1, budgets),
        ("start", "first attempt", 1, 7), ("tokens", 1, 1), ("done", "first attempt", 1),
        ("start", "reflection 1", 1, 3), ("tokens", 1, 1), ("done", "reflection 1", 1),
        ("start", "retry 1", 1, 7), ("tokens", 1, 1), ("done", "retry 1", 1),
        ("start", "reflection 2", 1, 3), ("tokens", 1, 1), ("done", "reflection 2", 1),
        ("start", "retry 2", 1, 7), ("tokens", 1, 1), ("done", "retry 2", 1),
    ]
    assert len(generator.calls) == 8


def test_bar_moves_within_a_phase_names_it_and_ends_at_the_total() -> None:
    bar = GenerationProgress(total=8, initial=2, batches=2, enabled=True)
    bar.batch_started(4, [100, 50, 100])
    bar.phase_started("first attempt", 4, 100)
    assert bar.bar.n == 0
    for step in range(1, 51):
        bar.on_tokens(step, 4)
    # half the first phase's budget: 100 of 250 budget tokens, half of it -> a fifth of the batch's 4 items
    assert abs(bar.bar.n - 4 * 0.2) < 1e-9
    text = bar.bar.postfix
    assert "2/8 done" in text and "batch 1/2" in text and "first attempt: 4 prompts, token 50/100" in text
    assert "200 tok" in text and "tok/s" in text
    bar.phase_done("first attempt", 4)
    assert abs(bar.bar.n - 4 * 0.4) < 1e-9
    bar.phase_started("reflection 1", 2, 50)
    bar.on_tokens(1, 2)
    bar.batch_done(4, note="1 solved at once")  # the retry was skipped: the bar jumps to the batch's end
    assert abs(bar.bar.n - 4) < 1e-9 and bar.done == 6
    bar.batch_started(2, [100])
    bar.batch_done(2)
    assert abs(bar.bar.n - 6) < 1e-9 and bar.bar.total == 6
    bar.close()
