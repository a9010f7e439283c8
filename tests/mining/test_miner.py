"""Mining with a simulated model of known failure probability: exactness, cost, batching, resumption, output."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest
from simulate import CoinTask, SimulatedGenerator, UnseededSimulatedGenerator, coin_examples  # tests/mining

from r3.errors import DataError, R3Error
from r3.mining import MineConfig, MiningStore, RoundSchedule, expected_samples, mine, run_identity, sample_seed
from r3.types import SamplingParams

MIXED = [0.0, 0.005, 0.02, 0.1, 0.3, 0.5, 0.9, 1.0]


def mine_into(out: Path, examples, generator, config: MineConfig, **identity):
    with MiningStore.open(out, run_identity(config, examples, model="sim", **identity)) as store:
        return mine(CoinTask(), generator, examples, config, store, progress=False)


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def reference_outcomes(examples, seed: int, max_samples: int) -> dict[str, list[bool]]:
    """A fixed full pass, sample by sample, outside the miner: failed? for each of the max_samples samples."""
    generator, task, params = SimulatedGenerator(), CoinTask(), SamplingParams(max_new_tokens=256)
    outcomes = {}
    for example in examples:
        pid = example["id"]
        prompts = [task.prompt(example)] * max_samples
        seeds = [sample_seed(seed, pid, i) for i in range(max_samples)]
        outputs = generator.generate(prompts, params, seeds=seeds)
        outcomes[pid] = [not task.verify(example, out[0].text).correct for out in outputs]
    return outcomes


@pytest.mark.parametrize("keep", [1, 3])
def test_adaptive_keeps_exactly_the_queries_and_failures_of_a_fixed_full_pass(tmp_path, keep):
    examples = coin_examples(MIXED * 12)
    adaptive = MineConfig(max_samples=64, keep=keep, batch_size=16, seed=0)
    fixed = MineConfig(max_samples=64, keep=keep, batch_size=16, schedule="fixed", seed=0)
    mine_into(tmp_path / "adaptive", examples, SimulatedGenerator(), adaptive)
    mine_into(tmp_path / "fixed", examples, SimulatedGenerator(), fixed)
    got = {row["problem_id"]: row for row in read_lines(tmp_path / "adaptive" / "failures.jsonl")}
    full = {row["problem_id"]: row for row in read_lines(tmp_path / "fixed" / "failures.jsonl")}

    outcomes = reference_outcomes(examples, seed=0, max_samples=64)
    expected_kept = {pid for pid, failed in outcomes.items() if any(failed)}
    assert set(got) == set(full) == expected_kept
    assert 0 < len(expected_kept) < len(examples)
    for pid in expected_kept:
        assert got[pid]["failed_attempts"] == full[pid]["failed_attempts"]  # the same draws, not just as many
        assert got[pid]["mining"]["first_failure_at"] == outcomes[pid].index(True) + 1

    # samples drawn: exactly the end of the round holding the keep-th failure (or the budget)
    schedule = RoundSchedule(max_samples=64)
    ledger = {entry["problem_id"]: entry for entry in read_lines(tmp_path / "adaptive" / "progress.jsonl")}
    for pid, failed in outcomes.items():
        failure_indices = [i + 1 for i, f in enumerate(failed) if f]
        stop = failure_indices[keep - 1] if len(failure_indices) >= keep else 64
        assert ledger[pid]["samples"] == schedule.samples_until(stop), pid
        assert len(got[pid]["failed_attempts"]) == min(keep, len(failure_indices)) if pid in got else True


def test_samples_drawn_match_the_expectation_for_a_random_model(tmp_path):
    """No per-sample seeds, one random stream: equal to the fixed pass in distribution (mean cost, kept share)."""
    count = 1500
    for p in (0.1, 0.5):
        stats = mine_into(tmp_path / f"p{p}", coin_examples([p] * count), UnseededSimulatedGenerator(rng_seed=3),
                          MineConfig(max_samples=64, batch_size=64))
        ledger = read_lines(tmp_path / f"p{p}" / "progress.jsonl")
        samples = [entry["samples"] for entry in ledger]
        mean = sum(samples) / count
        std = math.sqrt(sum((s - mean) ** 2 for s in samples) / (count - 1))
        assert abs(mean - expected_samples(p, RoundSchedule(64))) < 4 * std / math.sqrt(count)
        assert stats.samples == sum(samples)

    p_rare = 0.02  # a fixed pass keeps a query with probability 1 - 0.98**64 = 0.726
    stats = mine_into(tmp_path / "rare", coin_examples([p_rare] * count), UnseededSimulatedGenerator(rng_seed=4),
                      MineConfig(max_samples=64, batch_size=64))
    share, expected_share = stats.queries_kept / count, 1 - (1 - p_rare) ** 64
    assert abs(share - expected_share) < 4 * math.sqrt(expected_share * (1 - expected_share) / count)


def test_each_generate_call_mixes_many_queries_with_their_own_round_sizes(tmp_path):
    class Recording(SimulatedGenerator):
        def generate(self, prompts, params, seeds=None):
            self.per_query.append(Counter(prompt[-1]["content"] for prompt in prompts))
            return super().generate(prompts, params, seeds=seeds)

    generator = Recording()
    generator.per_query = []
    mine_into(tmp_path / "out", coin_examples([0.0, 0.5] * 40), generator, MineConfig(max_samples=16, batch_size=8))
    assert all(len(call) == 8 for call in generator.per_query[:5])  # the slots stay full while queries remain
    assert any(len(set(call.values())) > 1 for call in generator.per_query)  # different n in one call


class Interrupting(SimulatedGenerator):
    """Raises KeyboardInterrupt (as Ctrl-C would) on generate call number `stop_at`."""

    def __init__(self, stop_at: int):
        super().__init__()
        self.stop_at = stop_at

    def generate(self, prompts, params, seeds=None):
        if len(self.calls) + 1 == self.stop_at:
            raise KeyboardInterrupt
        return super().generate(prompts, params, seeds=seeds)


def test_interrupted_run_resumes_to_the_same_result(tmp_path):
    examples = coin_examples(MIXED * 5)
    config = MineConfig(max_samples=32, keep=2, batch_size=6)
    mine_into(tmp_path / "reference", examples, SimulatedGenerator(), config)
    with pytest.raises(KeyboardInterrupt):
        mine_into(tmp_path / "run", examples, Interrupting(stop_at=6), config)
    partial = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert 0 < partial["queries_seen"] < len(examples) and not partial["complete"]
    assert len(read_lines(tmp_path / "run" / "progress.jsonl")) == partial["queries_seen"]

    resumed = SimulatedGenerator()
    stats = mine_into(tmp_path / "run", examples, resumed, config.__class__(**{**config.__dict__, "batch_size": 3}))
    assert stats.queries_seen == len(examples)
    ledger = read_lines(tmp_path / "run" / "progress.jsonl")
    assert sorted(entry["index"] for entry in ledger) == list(range(len(examples)))
    assert sum(resumed.calls) < stats.samples  # only the unfinished queries were sampled again
    assert_same_lines(tmp_path / "run", tmp_path / "reference")


def assert_same_lines(run: Path, reference: Path) -> None:
    for name in ("failures.jsonl", "progress.jsonl"):
        got = Counter(_without_offsets(line) for line in (run / name).read_text().splitlines())
        want = Counter(_without_offsets(line) for line in (reference / name).read_text().splitlines())
        assert got == want, name
    got_stats = json.loads((run / "stats.json").read_text())
    assert got_stats == json.loads((reference / "stats.json").read_text())


def _without_offsets(line: str) -> str:
    record = json.loads(line)
    record.pop("failures_end", None)  # byte offsets depend on the order queries finished in
    return json.dumps(record, sort_keys=True)


def test_rerun_with_different_arguments_is_refused_naming_them(tmp_path):
    examples = coin_examples(MIXED)
    config = MineConfig(max_samples=8)
    mine_into(tmp_path / "run", examples, SimulatedGenerator(), config)
    changed = MineConfig(max_samples=8, temperature=0.7, keep=2)
    with pytest.raises(R3Error, match=r"--keep 2 \(was 1\); --temperature 0\.7 \(was 1\.0\)"):
        mine_into(tmp_path / "run", examples, SimulatedGenerator(), changed)
    with pytest.raises(R3Error, match="data contents"):
        mine_into(tmp_path / "run", coin_examples(MIXED[:-1]), SimulatedGenerator(), config)
    with pytest.raises(R3Error, match="--model 'other'"):
        with MiningStore.open(tmp_path / "run", run_identity(config, examples, model="other")):
            pass
    # the batch size changes speed, not what is mined: allowed
    again = SimulatedGenerator()
    mine_into(tmp_path / "run", examples, again, MineConfig(max_samples=8, batch_size=2))
    assert again.calls == []


def test_new_arguments_win_while_no_query_is_finished(tmp_path):
    """A run that failed before finishing a query (say, a wrong --model) must not block the corrected command."""
    examples = coin_examples(MIXED)
    config = MineConfig(max_samples=8)
    with MiningStore.open(tmp_path / "run", run_identity(config, examples, model="typo")):
        pass
    mine_into(tmp_path / "run", examples, SimulatedGenerator(), config)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["model"] == "sim"


def test_files_not_written_by_a_mining_run_are_left_alone(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "failures.jsonl").write_text("precious\n")
    with pytest.raises(R3Error, match="not an r3 mining run"):
        mine_into(tmp_path / "run", coin_examples(MIXED), SimulatedGenerator(), MineConfig(max_samples=8))
    assert (tmp_path / "run" / "failures.jsonl").read_text() == "precious\n"


def test_partial_and_uncommitted_lines_are_dropped_on_resume(tmp_path):
    examples = coin_examples(MIXED * 3)
    config = MineConfig(max_samples=16, batch_size=4)
    mine_into(tmp_path / "reference", examples, SimulatedGenerator(), config)
    with pytest.raises(KeyboardInterrupt):
        mine_into(tmp_path / "run", examples, Interrupting(stop_at=4), config)
    committed = {entry["index"] for entry in read_lines(tmp_path / "run" / "progress.jsonl")}
    missing = next(row for row in read_lines(tmp_path / "reference" / "failures.jsonl")
                   if row["mining"]["index"] not in committed)
    with open(tmp_path / "run" / "failures.jsonl", "a") as handle:  # a kept line whose ledger line never came
        handle.write(json.dumps(missing) + "\n" + json.dumps(missing)[:25])
    with open(tmp_path / "run" / "progress.jsonl", "a") as handle:
        handle.write('{"samples": 1, "failu')
    mine_into(tmp_path / "run", examples, SimulatedGenerator(), config)
    assert_same_lines(tmp_path / "run", tmp_path / "reference")


def test_a_crash_at_any_byte_resumes_to_exactly_once(tmp_path):
    """Every state a kill can leave (ledger cut at any byte; failures file at or past what the ledger committed)."""
    examples = coin_examples(MIXED * 2)
    config = MineConfig(max_samples=8, keep=2, batch_size=3)
    reference = tmp_path / "reference"
    mine_into(reference, examples, SimulatedGenerator(), config)
    failures, progress = (reference / "failures.jsonl").read_bytes(), (reference / "progress.jsonl").read_bytes()
    line_ends = [i + 1 for i, byte in enumerate(progress) if byte == ord("\n")]
    cuts = sorted({0, *line_ends, *(end - 7 for end in line_ends)})
    for number, cut in enumerate(cuts):
        committed = _committed_end(progress[:cut])
        for extra in sorted({0, (len(failures) - committed) // 2, len(failures) - committed}):
            run = tmp_path / f"crash{number}-{extra}"
            run.mkdir()
            (run / "run.json").write_bytes((reference / "run.json").read_bytes())
            (run / "progress.jsonl").write_bytes(progress[:cut])
            (run / "failures.jsonl").write_bytes(failures[: committed + extra])
            mine_into(run, examples, SimulatedGenerator(), config)
            assert_same_lines(run, reference)


def _committed_end(ledger: bytes) -> int:
    complete = ledger[: ledger.rfind(b"\n") + 1]
    lines = complete.splitlines()
    return json.loads(lines[-1])["failures_end"] if lines else 0


def test_a_corrupt_line_in_the_middle_is_reported_not_dropped(tmp_path):
    examples = coin_examples(MIXED)
    config = MineConfig(max_samples=8)
    mine_into(tmp_path / "run", examples, SimulatedGenerator(), config)
    path = tmp_path / "run" / "progress.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "not json\n" + "".join(lines[1:]))
    with pytest.raises(R3Error, match="progress.jsonl, line 2: corrupt"):
        mine_into(tmp_path / "run", examples, SimulatedGenerator(), config)


def test_a_second_process_cannot_mine_into_the_same_directory(tmp_path):
    config = MineConfig(max_samples=8)
    identity = run_identity(config, coin_examples(MIXED), model="sim")
    with MiningStore.open(tmp_path / "run", identity), pytest.raises(R3Error, match="another process"):
        MiningStore.open(tmp_path / "run", identity)


def test_output_loads_with_datasets_and_follows_the_schema(tmp_path):
    datasets = pytest.importorskip("datasets")
    examples = coin_examples([0.5, 1.0, 0.0, 0.9] * 3, nums=[3, 5, 7], target=15)
    for i, example in enumerate(examples):  # xLAM-like nested fields whose shapes differ from row to row
        example["tools"] = [{"name": f"tool{i}", "parameters": {f"arg{i}": {"type": ["int", "str"][i % 2],
                                                                              "default": [5, "x"][i % 2]}}}]
        example["answers"] = [{"name": f"tool{i}", "arguments": {f"arg{i}": [1, "a", None][i % 3]}}]
    stats = mine_into(tmp_path / "run", examples, SimulatedGenerator(), MineConfig(max_samples=8, keep=2))
    rows = read_lines(tmp_path / "run" / "failures.jsonl")
    loaded = datasets.load_dataset("json", data_files=str(tmp_path / "run" / "failures.jsonl"), split="train")
    assert len(loaded) == len(rows) == stats.queries_kept > 0
    for row, record in zip(rows, loaded):
        assert record == row  # every field round-trips, nested task fields included
        example = examples[row["mining"]["index"]]
        assert {k: row[k] for k in example} == example
        assert row["task"] == "coin" and row["problem_id"] == example["id"]
        assert row["prompt_messages"] == CoinTask().prompt(example)
        assert 1 <= len(row["failed_attempts"]) <= 2
        assert all(set(a) == {"text", "reason", "num_tokens"} for a in row["failed_attempts"])
        assert set(row["mining"]) == {"samples", "failures", "first_failure_at", "index"}


def test_stats_are_consistent_with_the_ledger(tmp_path):
    examples = coin_examples(MIXED * 4)
    mine_into(tmp_path / "run", examples, SimulatedGenerator(), MineConfig(max_samples=64))
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    ledger = read_lines(tmp_path / "run" / "progress.jsonl")
    assert stats["queries_seen"] == len(ledger) == len(examples) and stats["complete"]
    kept_lines = read_lines(tmp_path / "run" / "failures.jsonl")
    assert stats["queries_kept"] == sum(e["kept"] for e in ledger) == len(kept_lines)
    assert stats["samples_generated"] == sum(e["samples"] for e in ledger)
    assert stats["tokens_generated"] == sum(e["tokens"] for e in ledger)
    assert stats["fixed_budget_samples"] == 64 * len(examples)
    assert stats["sample_ratio"] == pytest.approx(stats["samples_generated"] / stats["fixed_budget_samples"], abs=1e-6)
    assert sum(stats["first_failure_at_histogram"].values()) == stats["queries_kept"]
    assert sum(stats["samples_per_query_histogram"].values()) == len(examples)


def test_an_example_with_a_reserved_field_name_is_refused(tmp_path):
    examples = coin_examples([0.5], mining="clash")
    with pytest.raises(DataError, match="field 'mining'"):
        mine_into(tmp_path / "run", examples, SimulatedGenerator(), MineConfig(max_samples=4))


@pytest.mark.parametrize("bad", [{"keep": 0}, {"keep": 65}, {"max_samples": 0}, {"schedule": "x"},
                                 {"batch_size": 0}])
def test_invalid_config_is_one_clear_error(bad):
    with pytest.raises(R3Error):
        MineConfig(**bad)
