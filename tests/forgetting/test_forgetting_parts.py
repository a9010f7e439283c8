"""The forgetting check's parts: option parsing, defaults, bad-input messages, paired errors, the vLLM door."""

from __future__ import annotations

import math
import sys
import types

import pytest

from r3.errors import R3Error
from r3.forgetting.benchmarks import BUILTIN_DEFAULTS, parse_bool, parse_override, settings_for
from r3.forgetting.harness import ModelOptions, check_benchmarks, describe_failure, load_lm
from r3.forgetting.report import Row, build_row, format_table, paired_stderr


def test_override_one_value_for_all_and_per_benchmark():
    override = parse_override("5,hellaswag=10", int, "--num-fewshot")
    assert override.for_task("gsm8k", 3) == 5
    assert override.for_task("hellaswag", 3) == 10
    only_named = parse_override("gsm8k=8", int, "--num-fewshot")
    assert only_named.for_task("gsm8k", 5) == 8
    assert only_named.for_task("mmlu_pro", 5) == 5  # not named: the benchmark's default stays


def test_metric_override_keeps_the_comma_of_metric_filter_keys():
    override = parse_override("gsm8k=exact_match,strict-match,hellaswag=acc,none", str, "--metric")
    assert dict(override.per_task) == {"gsm8k": "exact_match,strict-match", "hellaswag": "acc,none"}
    assert parse_override("exact_match,strict-match", str, "--metric").for_task("x", None) == "exact_match,strict-match"


def test_bad_override_value_names_option_and_value():
    with pytest.raises(R3Error, match=r"--num-fewshot: cannot read 'gsm8k=five'"):
        parse_override("gsm8k=five", int, "--num-fewshot")
    with pytest.raises(ValueError):
        parse_bool("maybe")
    assert [parse_bool(text) for text in ("true", "off", "auto")] == [True, False, None]


def test_settings_defaults_and_overrides():
    assert settings_for("gsm8k") == BUILTIN_DEFAULTS["gsm8k"]
    assert settings_for("hellaswag").metric == "acc_norm,none"
    assert settings_for("hellaswag").apply_chat_template is False
    custom = settings_for("my_task")  # a user's own task: the task file's own settings, first metric
    assert (custom.num_fewshot, custom.max_gen_toks, custom.metric, custom.apply_chat_template) == (None,) * 4
    changed = settings_for(
        "gsm8k",
        num_fewshot=parse_override("8", int, "-"),
        metric=parse_override("gsm8k=exact_match,strict-match", str, "-"),
    )
    assert (changed.num_fewshot, changed.metric, changed.max_gen_toks) == (8, "exact_match,strict-match", 256)


class _Index:
    all_tasks = ("gsm8k", "gsm8k_cot", "hellaswag", "mmlu_pro", "mmlu_pro_math", "minerva_math")


def test_unknown_benchmark_lists_close_matches():
    with pytest.raises(R3Error, match=r"unknown benchmark 'gsm8'; did you mean: gsm8k, gsm8k_cot\?") as error:
        check_benchmarks(["hellaswag", "gsm8"], _Index())
    assert "--include-path" in str(error.value)
    with pytest.raises(R3Error, match="did you mean: .*mmlu_pro"):
        check_benchmarks(["mmlu-pro"], _Index())
    check_benchmarks(["gsm8k", "minerva_math"], _Index())  # known names pass


@pytest.mark.slow
def test_unknown_benchmark_against_the_real_task_index():
    """The installed harness's index (about 20 s to build on a busy 2-core machine, hence slow)."""
    from r3.forgetting.harness import build_task_manager

    with pytest.raises(R3Error, match=r"unknown benchmark 'hellaswg'; did you mean: hellaswag"):
        check_benchmarks(["hellaswg"], build_task_manager())


def test_unknown_benchmark_via_cli_before_any_model_loads(tmp_path, capsys):
    from r3.cli import main

    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "arith_local.yaml").write_text("task: arith_local\ndataset_path: json\n")
    argv = ["forgetting", "--base", "no/model", "--trained", "no/model", "--out", str(tmp_path / "o")]
    argv += ["--tasks", "arith_locl", "--include-path", str(tmp_path / "tasks"), "--no-builtin-tasks"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "r3 forgetting: error: unknown benchmark 'arith_locl'; did you mean: arith_local?" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_model_that_cannot_load_is_one_line_and_nothing_runs(tmp_path, tiny_model_dir, capsys):
    from r3.cli import main

    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "arith_local.yaml").write_text("task: arith_local\ndataset_path: json\n")
    missing = tmp_path / "no_such_model"
    argv = ["forgetting", "--base", str(tiny_model_dir), "--trained", str(missing), "--out", str(tmp_path / "o")]
    argv += ["--tasks", "arith_local", "--include-path", str(tmp_path / "tasks"), "--no-builtin-tasks"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"r3 forgetting: error: cannot load model '{missing}'")
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "o" / "base").exists()  # refused before hours on the base model


def test_override_for_a_benchmark_not_requested_is_refused(tmp_path, capsys):
    from r3.cli import main

    argv = ["forgetting", "--base", "a", "--trained", "b", "--out", str(tmp_path), "--tasks", "gsm8k"]
    assert main([*argv, "--num-fewshot", "hellaswag=10"]) == 2
    assert "field 'num_fewshot': hellaswag not among tasks (gsm8k)" in capsys.readouterr().err


def test_failure_messages():
    try:
        try:
            raise OSError("Name or service not known")
        except OSError as inner:
            raise ConnectionError("Couldn't reach 'openai/gsm8k' on the Hub (LocalEntryNotFoundError)") from inner
    except ConnectionError as error:
        message = describe_failure("gsm8k", error)
    assert message.startswith("gsm8k: its data could not be reached (Couldn't reach 'openai/gsm8k'")
    missing = AssertionError("`sympy` and `antlr4-python3-runtime==4.11` are required. Please install lm-eval[math]")
    assert describe_failure("minerva_math", missing).startswith(
        "minerva_math: the task needs packages that are missing"
    )
    assert describe_failure("x", ValueError("bad\nsecond line")) == "x: ValueError: bad"


def _items(values: dict[int, float], task: str = "t", metric: str = "acc") -> list[dict]:
    return [{"task": task, "doc_id": doc, "filter": "none", metric: value} for doc, value in values.items()]


def test_paired_stderr_of_the_difference():
    base = {0: 1.0, 1: 0.0, 2: 1.0, 3: 0.0}
    trained = {0: 1.0, 1: 1.0, 2: 1.0, 3: 0.0}  # diffs 0, 1, 0, 0: mean 0.25, sample sd 0.5
    stderr = paired_stderr(_items(base), _items(trained), "acc,none", 0.5, 0.75)
    assert stderr == pytest.approx(0.5 / math.sqrt(4))
    # different documents, or per-document scores that do not reproduce the harness's number: no paired figure
    assert paired_stderr(_items(base), _items({0: 1.0, 1: 1.0, 2: 1.0, 5: 0.0}), "acc,none", 0.5, 0.75) is None
    assert paired_stderr(_items(base), _items(trained), "acc,none", 0.5, 0.70) is None


def test_row_falls_back_to_independent_stderr_and_reports_the_metric():
    def results(value, stderr):
        return {"results": {"b": {"acc,none": value, "acc_stderr,none": stderr, "acc_norm,none": 0.1}},
                "n-samples": {"b": {"original": 9, "effective": 9}}}  # fmt: skip

    row = build_row("b", None, results(0.5, 0.03), results(0.45, 0.04), [], [])
    assert (row.metric, row.n, row.stderr_method) == ("acc,none", 9, "independent")
    assert row.difference == pytest.approx(-0.05)
    assert row.difference_stderr == pytest.approx(0.05)
    assert build_row("b", "acc_norm", results(0.5, 0.03), results(0.5, 0.03), [], []).metric == "acc_norm,none"
    with pytest.raises(R3Error, match="no metric 'f1,none'.*acc,none"):
        build_row("b", "f1", results(0.5, 0.03), results(0.5, 0.03), [], [])


def test_format_table():
    row = Row("gsm8k", "exact_match,flexible-extract", 100, 0.5, 0.05, 0.48, 0.05, -0.02, 0.01, "paired")
    table = format_table([row])
    assert (
        "| gsm8k | exact_match,flexible-extract | 100 | 0.5000 ± 0.0500 | 0.4800 ± 0.0500 | -0.0200 ± 0.0100 |" in table
    )


def test_vllm_backend_missing_is_one_line():
    if "vllm" in sys.modules or _has_vllm():
        pytest.skip("vLLM is installed here")
    with pytest.raises(R3Error, match=r"the vllm backend needs vLLM: pip install 'r3-reflect\[vllm\]'"):
        load_lm("some/model", ModelOptions(backend="vllm"))


def _has_vllm() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def test_vllm_backend_builds_the_harness_wrapper_from_the_path(monkeypatch):
    """vLLM cannot run on a CPU: a stand-in for lm-eval's VLLM class records what r3 passes to it."""
    calls = []

    class FakeVLLM:
        def __init__(self, **kwargs):
            calls.append(kwargs)

    module = types.ModuleType("lm_eval.models.vllm_causallms")
    module.VLLM = FakeVLLM
    monkeypatch.setitem(sys.modules, "lm_eval.models.vllm_causallms", module)
    options = ModelOptions(backend="vllm", batch_size="auto", model_args={"gpu_memory_utilization": 0.8})
    assert isinstance(load_lm("runs/train/final", options), FakeVLLM)
    assert calls == [
        {
            "pretrained": "runs/train/final",
            "trust_remote_code": False,
            "dtype": "auto",
            "batch_size": "auto",
            "gpu_memory_utilization": 0.8,
        }
    ]
    with pytest.raises(R3Error, match="unknown backend 'sglang'"):
        load_lm("m", ModelOptions(backend="sglang"))
