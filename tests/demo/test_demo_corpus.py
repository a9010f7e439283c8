"""The demo corpus: puzzles, episodes and their layout (what the demo model is pretrained on)."""

import random

import pytest

from r3.conversation import retry_messages
from r3.demo.corpus import CorpusMix, classify, episode, episodes, hint_is_right, reflection
from r3.demo.puzzles import Puzzle, Solution, distinct_puzzles, random_puzzle, solutions, split_of
from r3.demo.task import DemoCountdownTask

TASK = DemoCountdownTask()


def test_puzzles_are_solvable_and_in_their_split():
    rng = random.Random(0)
    for split in ("pretrain", "train", "test"):
        for _ in range(50):
            puzzle = random_puzzle(rng, split)
            assert split_of(puzzle) == split
            assert solutions(puzzle.key), puzzle
            for solution in solutions(puzzle.key):
                verdict = TASK.verify(puzzle.to_row(), f"<answer> {solution.equation()} </answer>")
                assert verdict.correct, (puzzle, solution, verdict)


def test_splits_are_disjoint_and_distinct_sets_have_no_repeats():
    test = distinct_puzzles(random.Random(1), "test", 200)
    train = distinct_puzzles(random.Random(2), "train", 200)
    assert len({p.key for p in test}) == 200
    assert not {p.key for p in test} & {p.key for p in train}


def test_episodes_are_deterministic():
    first = [next(stream).messages for stream in [episodes(7, TASK, CorpusMix())] for _ in range(20)]
    second = [next(stream).messages for stream in [episodes(7, TASK, CorpusMix())] for _ in range(20)]
    assert first == second


def test_episode_layout_is_the_tasks_and_conversations():
    rng = random.Random(3)
    puzzle = Puzzle((4, 5, 3), 23)
    mix = CorpusMix(p_solve=0.0)
    text = episode(rng, puzzle, TASK, mix)
    messages = list(text.messages)
    assert messages[0] == TASK.prompt(TASK.normalize(puzzle.to_row()))[0]
    attempt, reflection_text = messages[1]["content"], messages[3]["content"]
    reason = TASK.verify(puzzle.to_row(), attempt).reason
    expected = retry_messages(TASK.prompt(puzzle.to_row()), [attempt], [reflection_text], [reason],
                              TASK.reflection_instruction, TASK.retry_instruction)
    assert messages[:-1] == expected
    assert not TASK.verify(puzzle.to_row(), attempt).correct
    assert TASK.verify(puzzle.to_row(), messages[-1]["content"]).correct == text.retry_correct


def test_solved_first_attempt_ends_the_episode():
    texts = [episode(random.Random(seed), Puzzle((4, 5, 3), 23), TASK, mix)
             for mix in (CorpusMix(), CorpusMix(first_attempts="greedy")) for seed in range(40)]
    solved = [text for text in texts if text.first_correct]
    assert solved and all(len(text.messages) == 2 for text in solved)
    assert all(len(text.messages) == 6 for text in texts if not text.first_correct)


def test_greedy_first_attempt_finishes_from_its_first_step():
    from r3.demo.corpus import greedy

    rng = random.Random(0)
    puzzle = Puzzle((4, 5, 3), 23)  # only 4 * 5 (either order) leads to 23
    for _ in range(200):
        guess = greedy(rng, puzzle)
        assert sorted((guess.x, guess.y, guess.z)) == [3, 4, 5]
        if {guess.x, guess.y} == {4, 5} and guess.op1 == "*":
            assert guess.op2 == "+" and guess.value == 23  # the second step that reaches the target
        else:
            assert guess.value != 23


def test_greedy_worked_first_attempts_show_honest_work_then_the_answer():
    from r3.demo.corpus import _PATTERNS, worked_answer

    mix = CorpusMix(first_attempts="greedy_worked")
    stream = episodes(0, TASK, mix)
    for _ in range(200):
        text = next(stream)
        attempt = text.messages[1]["content"]
        work = attempt.split(" <answer> ")[0]
        assert classify(work) == "full"  # "First x op y = m , then m op z = v ."
        x, op1, y, m1, m2, op2, z, value = _PATTERNS["full"].fullmatch(work).groups()
        solution = Solution(int(x), op1, int(y), op2, int(z))
        assert attempt == worked_answer(solution, solution.value) and int(m1) == int(m2) == solution.middle
        assert int(value) == solution.value  # honest, even when it misses the target
        assert text.first_correct == (solution.value == int(text.messages[0]["content"].split()[1]))
        assert TASK.verify(TASK.normalize({"nums": [solution.x, solution.y, solution.z], "target": solution.value}),
                           attempt).correct


def test_worked_first_attempts_claim_the_target_and_slip_when_wrong():
    from r3.demo.corpus import _PATTERNS

    stream = episodes(0, TASK, CorpusMix(first_attempts="worked"))
    sample = [next(stream) for _ in range(1000)]
    for text in sample:
        target = int(text.messages[0]["content"].split()[1])
        work, equation = text.messages[1]["content"].split(" <answer> ")
        x, op1, y, m1, m2, op2, z, value = _PATTERNS["full"].fullmatch(work).groups()
        solution = Solution(int(x), op1, int(y), op2, int(z))
        assert int(m1) == int(m2) == solution.middle and int(value) == target  # every attempt claims the target
        assert equation == f"{solution.equation()} </answer>"
        assert text.first_correct == (solution.value == target)
        assert TASK.verify({"nums": [solution.x, solution.y, solution.z], "target": target},
                           text.messages[1]["content"]).correct == text.first_correct
    assert 0.3 < sum(text.first_correct for text in sample) / len(sample) < 0.5  # p_solve 0.4


def test_an_unknown_first_attempt_design_is_refused():
    with pytest.raises(ValueError, match="first_attempts"):
        CorpusMix(first_attempts="perfect")


def test_greedy_first_attempts_beat_random_equations():
    from r3.demo.corpus import greedy
    from r3.demo.puzzles import candidates

    rng = random.Random(1)
    puzzles = [random_puzzle(rng, "test") for _ in range(2000)]
    greedy_rate = sum(greedy(rng, p).value == p.target for p in puzzles) / len(puzzles)
    random_rate = sum(rng.choice(candidates(p.nums)).value == p.target for p in puzzles) / len(puzzles)
    assert 0.2 < greedy_rate < 0.4 and random_rate < 0.15


@pytest.mark.parametrize("kind", ["generic", "restate", "partial", "full"])
def test_reflections_are_classified_as_their_kind(kind):
    puzzle, hint = Puzzle((4, 5, 3), 23), Solution(4, "*", 5, "+", 3)
    text = reflection(random.Random(0), puzzle, Solution(4, "+", 5, "*", 3), kind, hint)
    assert classify(text) == kind
    assert hint_is_right(text, puzzle) == (kind == "full")


def test_wrong_hints_are_recognised():
    puzzle = Puzzle((4, 5, 3), 23)
    assert hint_is_right("First 4 * 5 = 20 , then 20 + 3 = 23 .", puzzle)
    assert not hint_is_right("First 4 * 5 = 21 , then 21 + 3 = 23 .", puzzle)  # wrong arithmetic
    assert not hint_is_right("First 4 * 5 = 20 , then 20 + 4 = 24 .", puzzle)  # wrong number, wrong target
    assert not hint_is_right("First 4 + 5 = 9 , then 9 * 3 = 23 .", puzzle)    # claims the target, misses it
    assert classify("something else") == "other"


def test_corpus_mix_shows_in_the_episodes():
    stream = episodes(0, TASK, CorpusMix())
    sample = [next(stream) for _ in range(2000)]
    first = sum(e.first_correct for e in sample) / len(sample)
    assert 0.3 < first < 0.5
    by_kind = {}
    for e in sample:
        if not e.first_correct:
            by_kind.setdefault(e.kind, []).append(e.retry_correct)
    rate = {kind: sum(v) / len(v) for kind, v in by_kind.items()}
    # only a good reflection carries what the retry needs
    assert rate["full"] > 0.85 and rate["partial"] > 0.5
    assert rate["generic"] < 0.15 and rate["restate"] < 0.15


def test_worked_solutions_are_right_and_in_the_pretrain_split():
    from r3.demo.corpus import worked_chats

    stream = worked_chats(0, CorpusMix(worked_per_chat=3))
    for _ in range(20):
        messages = next(stream)
        assert [m["role"] for m in messages] == ["user", "assistant"] * 3
        for request, hint in zip(messages[::2], messages[1::2]):
            words = request["content"].split()
            assert words[0] == "Show" and words[-1] == "."
            puzzle = Puzzle(tuple(int(w) for w in words[3:-1]), int(words[1]))
            assert hint_is_right(hint["content"], puzzle) and split_of(puzzle) == "pretrain"
            assert classify(hint["content"]) == "full"


def test_default_corpus_is_the_one_the_committed_demo_model_was_built_from():
    """The committed weights are what scripts/build_demo_model.py produces with its defaults; that holds only while
    the default corpus stays byte for byte the one they were trained on (recorded when src/r3/demo/model_files/ was built)."""
    import hashlib
    import json

    from r3.demo.corpus import worked_chats

    stream, worked = episodes(0, TASK, CorpusMix()), worked_chats(0, CorpusMix())
    data = json.dumps([next(stream).messages for _ in range(300)] + [next(worked) for _ in range(100)])
    recorded = "723fd76d85056e9076f3ac4d7e7cb4c771e1fcf5d805420d0c33d7f98cf198d3"
    assert hashlib.sha256(data.encode()).hexdigest() == recorded
