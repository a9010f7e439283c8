"""End to end, offline: `r3 forgetting` on two tiny models over lm-eval's own GSM8K and HellaSwag definitions.

The test's task YAMLs `include:` the installed gsm8k.yaml / hellaswag.yaml by absolute path (so the real prompts,
filters, metrics and HellaSwag's process_docs run) and replace only the data source with a few local rows in the
datasets' real columns. A third task keeps GSM8K's hub dataset, which cannot be reached offline: it must fail with
one clear line while the other two finish.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import pytest

GSM8K_ROWS = [
    {
        "question": f"Tom has {a} apples and buys {b} more. How many apples does he have?",
        "answer": f"{a}+{b}={a + b}.\n#### {a + b}",
    }
    for a, b in [(3, 2), (7, 5), (10, 4), (6, 6), (1, 8), (9, 3)]
]
HELLASWAG_ROWS = [
    {
        "ind": i,
        "activity_label": label,
        "ctx_a": ctx_a,
        "ctx_b": "he",
        "ctx": f"{ctx_a} he",
        "endings": endings,
        "source_id": f"test~{i}",
        "split": "val",
        "split_type": "indomain",
        "label": str(i % 4),
    }
    for i, (label, ctx_a, endings) in enumerate(
        [
            (
                "Cooking",
                "A man cracks eggs into a bowl.",
                ["whisks them.", "flies away.", "sings.", "reads [title] a book."],
            ),
            ("Running", "A woman laces her shoes.", ["runs down the road.", "eats the shoes.", "sleeps.", "swims."]),
            ("Painting", "A child dips a brush in paint.", ["paints a tree.", "drinks it.", "jumps.", "hides."]),
            ("Gardening", "A man kneels by the flowers.", ["pulls the weeds.", "drives off.", "cries.", "laughs."]),
            ("Skiing", "A skier stands at the top.", ["pushes off downhill.", "cooks.", "writes.", "sits."]),
        ]
    )
]
MMLU_PRO_ROWS = [
    {
        "question_id": i,
        "question": f"What is {i} + 1?",
        "options": [str(i + 1), str(i + 2), str(i), "7"],
        "answer": "A",
        "answer_index": 0,
        "cot_content": f"A: Let's think step by step. {i} + 1 = {i + 1}. The answer is (A).",
        "category": category,
        "src": "test",
    }
    for i, category in enumerate(["math", "math", "math", "physics", "physics", "physics"])
]
TASKS = ("gsm8k_local", "hellaswag_local", "mmlu_pro_local")  # mmlu_pro_local: a group of two subjects
LEAVES = {"gsm8k_local": 4, "hellaswag_local": 4, "mmlu_pro_math_local": 3, "mmlu_pro_physics_local": 3}


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_test_tasks(root: Path) -> Path:
    """Task YAMLs that reuse the installed benchmark definitions over local rows; returns the task folder."""
    import lm_eval

    builtin = Path(lm_eval.__file__).parent / "tasks"
    gsm8k = _write_jsonl(root / "gsm8k.jsonl", GSM8K_ROWS)
    hellaswag = _write_jsonl(root / "hellaswag.jsonl", HELLASWAG_ROWS)
    tasks = root / "tasks"
    tasks.mkdir()
    (tasks / "gsm8k_local.yaml").write_text(
        f"include: {builtin / 'gsm8k' / 'gsm8k.yaml'}\ntask: gsm8k_local\ntag: []\n"
        f"dataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    train: {gsm8k}\n    test: {gsm8k}\n"
    )
    (tasks / "hellaswag_local.yaml").write_text(
        f"include: {builtin / 'hellaswag' / 'hellaswag.yaml'}\ntask: hellaswag_local\ntag: []\n"
        f"dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    train: {hellaswag}\n    validation: {hellaswag}\n"
    )
    mmlu_pro = _write_jsonl(root / "mmlu_pro.jsonl", MMLU_PRO_ROWS)
    for subject in ("math", "physics"):  # the real MMLU-Pro subject tasks, as a group like the built-in mmlu_pro
        (tasks / f"mmlu_pro_{subject}_local.yaml").write_text(
            f"include: {builtin / 'mmlu_pro' / f'mmlu_pro_{subject}.yaml'}\ntask: mmlu_pro_{subject}_local\n"
            f"dataset_path: json\n"
            f"dataset_kwargs:\n  data_files:\n    validation: {mmlu_pro}\n    test: {mmlu_pro}\n"
        )
    (tasks / "mmlu_pro_local.yaml").write_text(
        "group: mmlu_pro_local\ntask: [mmlu_pro_math_local, mmlu_pro_physics_local]\naggregate_metric_list:\n"
        "  - {metric: exact_match, aggregation: mean, weight_by_size: true, filter_list: custom-extract}\n"
    )
    # the real GSM8K data source: unreachable offline
    (tasks / "gsm8k_hub.yaml").write_text(f"include: {builtin / 'gsm8k' / 'gsm8k.yaml'}\ntask: gsm8k_hub\ntag: []\n")
    return tasks


@contextlib.contextmanager
def offline():
    """HF_HUB_OFFLINE for the whole module's run (the env var alone is read only at import; patch the flags too)."""
    import datasets.config
    import huggingface_hub.constants

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("HF_DATASETS_OFFLINE", "1")
        patch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        yield


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    from r3.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def forgetting_run(tmp_path_factory, tiny_model_dir):
    """One `r3 forgetting` run shared by the checks below: base = tiny model seed 0, trained = seed 1."""
    from r3.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("forgetting")
    tasks = write_test_tasks(root)
    trained = build_tiny_model(root / "trained_model", seed=1)
    out = root / "out"
    argv = [
        "forgetting", "--base", str(tiny_model_dir), "--trained", str(trained), "--out", str(out),
        "--tasks", ",".join((*TASKS, "gsm8k_hub")), "--include-path", str(tasks), "--no-builtin-tasks",
        "--limit", "4", "--num-fewshot", "gsm8k_local=2,mmlu_pro_local=1", "--max-gen-toks", "8", "--bootstrap-iters", "20",
        "--metric", "gsm8k_local=exact_match,flexible-extract,hellaswag_local=acc_norm",
    ]  # fmt: skip
    with offline():
        code, stdout, stderr = run_cli(argv)
    return {"out": out, "code": code, "stdout": stdout, "stderr": stderr, "argv": argv}


def test_raw_results_for_both_models(forgetting_run):
    for role in ("base", "trained"):
        results = json.loads((forgetting_run["out"] / role / "results.json").read_text())
        assert set(results["results"]) == set(TASKS) | set(LEAVES)
        assert set(results["groups"]) == {"mmlu_pro_local"}
        assert {name: n["effective"] for name, n in results["n-samples"].items()} == LEAVES
        assert results["n-shot"]["gsm8k_local"] == 2
        # the built-in definitions ran: GSM8K's two filters and HellaSwag's two metrics
        assert {"exact_match,strict-match", "exact_match,flexible-extract"} <= set(results["results"]["gsm8k_local"])
        assert {"acc,none", "acc_norm,none"} <= set(results["results"]["hellaswag_local"])
        items = (forgetting_run["out"] / role / "items" / "hellaswag_local.jsonl").read_text().splitlines()
        assert len(items) == 4


def test_table_matches_raw_results(forgetting_run):
    out = forgetting_run["out"]
    table = json.loads((out / "table.json").read_text())
    raw = {role: json.loads((out / role / "results.json").read_text())["results"] for role in ("base", "trained")}
    rows = {row["benchmark"]: row for row in table["rows"]}
    assert set(rows) == set(TASKS)
    assert rows["gsm8k_local"]["metric"] == "exact_match,flexible-extract"
    assert rows["hellaswag_local"]["metric"] == "acc_norm,none"
    assert rows["mmlu_pro_local"]["metric"] == "exact_match,custom-extract"  # the group's one metric
    for name, row in rows.items():
        metric, _, filter_name = row["metric"].partition(",")
        for role in ("base", "trained"):
            assert row[role] == raw[role][name][row["metric"]]
            assert row[f"{role}_stderr"] == pytest.approx(raw[role][name][f"{metric}_stderr,{filter_name}"])
        assert row["difference"] == pytest.approx(row["trained"] - row["base"])
        assert row["n"] == (6 if name == "mmlu_pro_local" else 4)
        assert row["stderr_method"] == "paired"
        assert row["difference_stderr"] == pytest.approx(_paired_stderr(out, name, metric, filter_name))
    assert (out / "table.md").read_text() in forgetting_run["stdout"]


def _paired_stderr(out: Path, name: str, metric: str, filter_name: str) -> float:
    scores = {}
    for role in ("base", "trained"):
        lines = (out / role / "items" / f"{name}.jsonl").read_text().splitlines()
        items = [json.loads(line) for line in lines]
        scores[role] = {
            (item["task"], item["doc_id"]): float(item[metric]) for item in items if item["filter"] == filter_name
        }
    diffs = [scores["trained"][doc] - scores["base"][doc] for doc in scores["base"]]
    mean = sum(diffs) / len(diffs)
    return math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs))


def test_unreachable_benchmark_fails_alone(forgetting_run):
    table = json.loads((forgetting_run["out"] / "table.json").read_text())
    failed = {(failure["benchmark"], failure["model"]): failure["message"] for failure in table["failed"]}
    assert set(failed) == {("gsm8k_hub", "base")}  # not tried on the trained model: it can have no row
    assert all("could not be reached" in message and "openai/gsm8k" in message for message in failed.values())
    assert forgetting_run["code"] == 1
    assert "FAILED (base) gsm8k_hub: its data could not be reached" in forgetting_run["stdout"]


def test_chart_is_a_png(forgetting_run):
    chart = forgetting_run["out"] / "forgetting.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_reuses_finished_benchmarks(forgetting_run, monkeypatch):
    """Same arguments again: nothing is re-evaluated (no model even loads) and the table is the same."""
    import r3.forgetting.check

    def no_loading(*args, **kwargs):
        raise AssertionError("a finished benchmark was evaluated again")

    before = json.loads((forgetting_run["out"] / "table.json").read_text())["rows"]
    argv = [arg for arg in forgetting_run["argv"]]
    argv[argv.index("--tasks") + 1] = ",".join(TASKS)
    monkeypatch.setattr(r3.forgetting.check, "load_lm", no_loading)
    code, _, _ = run_cli(argv)
    assert code == 0
    assert json.loads((forgetting_run["out"] / "table.json").read_text())["rows"] == before
