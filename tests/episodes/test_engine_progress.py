"""The engine's per-phase hook: a progress bar can move after every generate call, not only per batch."""

from __future__ import annotations

from test_engine import EchoTask, ScriptedGenerator

from r3.episodes import EpisodeConfig, run_episodes


def test_on_phase_reports_every_generate_call_in_order() -> None:
    examples = [{"q": "a", "answer": "A"}, {"q": "b", "answer": "B"}, {"q": "c", "answer": "C"}]
    generator = ScriptedGenerator({"a": ["A"], "b": ["x", "B"], "c": ["x", "x", "x"]})
    phases: list[tuple[str, int]] = []
    batches = list(run_episodes(EchoTask(), generator, examples, EpisodeConfig(max_attempts=3, batch_size=2),
                                on_phase=lambda phase, n: phases.append((phase, n))))
    assert len(batches) == 2
    # batch 1 (a, b): a solved at once, b after one reflection -> round 2 skipped; batch 2 (c): never solved
    assert phases == [("first attempt", 2), ("reflection 1", 1), ("retry 1", 1),
                      ("first attempt", 1), ("reflection 1", 1), ("retry 1", 1), ("reflection 2", 1), ("retry 2", 1)]
    assert len(phases) == len(generator.calls)
