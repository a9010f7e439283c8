"""Sharded-parameter training for real on CPU: two gloo processes under `accelerate launch` with FSDP2.

accelerate 1.15 turns FSDP on only for accelerator devices: with `use_cpu` a `distributed_type: FSDP` launch silently
falls back to DDP (state.py: the FSDP branch sits under the MULTI_GPU/... device types; the log then shows DDP's
reducer warning). PyTorch's FSDP2 itself runs on CPU with gloo, so these tests lift that one gate in the launched
processes (a sitecustomize written to a temporary folder, see SHIM) and run the real `r3 train` entry point with
configs/accelerate/cpu_2proc_fsdp.yaml. The same shim counts TRL's generation calls per process: the retry inside
r3's reward is a collective operation under FSDP (every forward all-gathers the shards), so both processes must make
the same number of calls, or the run hangs.

Measured on the shared 2-core machine under load: 87 s offline, 80 s online (slow set: `.venv/bin/pytest -m slow
tests/training/test_distributed_sharded.py`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_fakes import write_failures, write_words
from transformers import AutoModelForCausalLM

REPO = Path(__file__).resolve().parents[2]
ACCELERATE = REPO / "src" / "r3" / "configs" / "accelerate"  # configs/accelerate links here
LAUNCH = {"fsdp": ACCELERATE / "cpu_2proc_fsdp.yaml", "zero3": ACCELERATE / "cpu_2proc_zero3.yaml"}
TYPES = {"fsdp": "DistributedType.FSDP", "zero3": "DistributedType.DEEPSPEED"}
needs_deepspeed = pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None,
                                     reason="DeepSpeed is not installed (pip install deepspeed; CPU: DS_ACCELERATOR=cpu)")

SHIM = '''
import atexit, functools, json, os

MODE = os.environ.get("R3_TEST_SHARDED_ON_CPU")
if MODE in ("fsdp", "zero3") and "RANK" in os.environ:
    import accelerate.state as _state
    from accelerate.utils import DistributedType

    _init = _state.AcceleratorState.__init__

    def _sharded_on_cpu(self, *args, fsdp_plugin=None, deepspeed_plugin=None, **kwargs):
        _init(self, *args, fsdp_plugin=fsdp_plugin, deepspeed_plugin=deepspeed_plugin, **kwargs)
        if MODE == "fsdp":
            if fsdp_plugin is not None:
                self.fsdp_plugin = fsdp_plugin
            if getattr(self, "fsdp_plugin", None) is not None and self.distributed_type == DistributedType.MULTI_CPU:
                self.distributed_type = DistributedType.FSDP
                _state.PartialState._shared_state["distributed_type"] = DistributedType.FSDP
        elif deepspeed_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            # what accelerate's own DeepSpeed branch does, which it skips for `cpu`
            self.distributed_type = DistributedType.DEEPSPEED
            _state.PartialState._shared_state["distributed_type"] = DistributedType.DEEPSPEED
            deepspeed_plugin.set_mixed_precision(self._mixed_precision)
            deepspeed_plugin.select(_from_accelerator_state=True)
            self.deepspeed_plugins = deepspeed_plugin
            self._mixed_precision = "no"

    _state.AcceleratorState.__init__ = _sharded_on_cpu

    from trl.trainer.grpo_trainer import GRPOTrainer

    _record = {"calls": 0, "sharded": None, "distributed_type": None}
    _generate = GRPOTrainer._generate_single_turn

    @functools.wraps(_generate)  # r3's TRL adapter checks this method's signature
    def _counted(self, *args, **kwargs):
        _record["calls"] += 1
        # FSDP2: decoder layers hold DTensor shards (the root module, embeddings and final norm, stays gathered
        # between its forward and backward by FSDP2's design, so it is left out); ZeRO-3: every parameter is
        # partitioned (DeepSpeed marks it with ds_id)
        layers = [p for n, p in self.model_wrapped.named_parameters() if ".layers." in n]
        mark = "device_mesh" if MODE == "fsdp" else "ds_id"
        _record["sharded"] = bool(layers) and all(hasattr(p, mark) for p in layers)
        _record["distributed_type"] = str(self.accelerator.distributed_type)
        return _generate(self, *args, **kwargs)

    GRPOTrainer._generate_single_turn = _counted

    def _write():
        path = os.path.join(os.environ["R3_TEST_RECORD_DIR"], "rank%s.json" % os.environ["RANK"])
        with open(path, "w") as handle:
            json.dump(_record, handle)

    atexit.register(_write)
'''


def write_config(path: Path, model_dir: Path, data: Path, out: Path, **extra) -> Path:
    """A tiny-model CPU training config (2 steps, a checkpoint at the last one)."""
    config = {
        "task": "train_fakes:ParityTask", "model": str(model_dir), "data": str(data), "output_dir": str(out),
        "num_generations": 4, "per_device_train_batch_size": 4, "reflection_max_new_tokens": 8,
        "attempt_max_new_tokens": 8, "max_steps": 2, "learning_rate": 1e-2, "save_strategy": "steps",
        "save_steps": 2, "report_to": "none", "seed": 0, "use_cpu": True, "logging_steps": 1,
        "dataloader_num_workers": 0, "disable_tqdm": True,
    }
    config.update(extra)
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in config.items()), encoding="utf-8")
    return path


def launch_sharded(config: Path, tmp_path: Path, mode: str = "fsdp") -> tuple[subprocess.CompletedProcess, list[dict]]:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SHIM, encoding="utf-8")
    records = tmp_path / "records"
    records.mkdir()
    path = [str(shim), str(Path(__file__).parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), OMP_NUM_THREADS="1", TRL_EXPERIMENTAL_SILENCE="1",
               R3_TEST_SHARDED_ON_CPU=mode, R3_TEST_RECORD_DIR=str(records), DS_ACCELERATOR="cpu")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(LAUNCH[mode]),
               "-m", "r3", "train", "--config", str(config)]
    # DeepSpeed compiles its CPU communication op on first use (minutes on 2 cores), hence the long timeout
    result = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=1500)
    found = [json.loads(p.read_text()) for p in sorted(records.glob("rank*.json"))]
    return result, found


def assert_trained_and_reloads(before: Path, out: Path) -> None:
    final = AutoModelForCausalLM.from_pretrained(out)
    checkpoint = AutoModelForCausalLM.from_pretrained(out / "checkpoint-2")  # the sharded run's checkpoint reloads
    start = AutoModelForCausalLM.from_pretrained(before)
    assert any(not torch.equal(p, q) for p, q in zip(start.parameters(), final.parameters())), "nothing trained"
    assert all(torch.equal(p, q) for p, q in zip(final.parameters(), checkpoint.parameters()))


def assert_sharded_and_in_step(result: subprocess.CompletedProcess, records: list[dict], mode: str = "fsdp") -> None:
    assert result.returncode == 0, result.stderr[-4000:]
    assert "DDP constructor" not in result.stderr  # no silent fallback to data parallelism
    assert len(records) == 2, f"expected a record per process, got {records}\n{result.stderr[-2000:]}"
    assert all(r["distributed_type"] == TYPES[mode] and r["sharded"] for r in records), records
    # 2 steps x (TRL's reflections + r3's retries) = 4 calls on each process, the same on both
    assert records[0]["calls"] == records[1]["calls"] == 4, records


@pytest.mark.slow
def test_fsdp2_offline_two_processes(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = write_failures(tmp_path / "failures.jsonl", count=4)
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, data, tmp_path / "out")
    result, records = launch_sharded(config, tmp_path)
    assert_sharded_and_in_step(result, records)
    assert_trained_and_reloads(tiny_model_dir, tmp_path / "out")


@pytest.mark.slow
def test_fsdp2_online_two_processes(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Online: first attempts, reflections and retries are all sampled during training, on sharded weights; a group
    solved at its first attempt retries only a placeholder, and the processes must still make the same calls."""
    data = write_words(tmp_path / "words.jsonl", ["river", "stone", "cloud", "bread"])
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, data, tmp_path / "out", mode="online",
                          shuffle_dataset=False)
    result, records = launch_sharded(config, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert len(records) == 2 and records[0]["calls"] == records[1]["calls"] > 0, records
    assert all(r["distributed_type"] == "DistributedType.FSDP" and r["sharded"] for r in records), records
    metrics = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert any("r3/first_attempt_success" in m for m in metrics)
    assert_trained_and_reloads(tiny_model_dir, tmp_path / "out")


@pytest.mark.slow
@needs_deepspeed
def test_zero3_offline_two_processes(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = write_failures(tmp_path / "failures.jsonl", count=4)
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, data, tmp_path / "out")
    result, records = launch_sharded(config, tmp_path, mode="zero3")
    assert_sharded_and_in_step(result, records, mode="zero3")
    assert (tmp_path / "out" / "checkpoint-2" / "global_step2").is_dir()  # DeepSpeed's own checkpoint, for resuming
    assert_trained_and_reloads(tiny_model_dir, tmp_path / "out")


@pytest.mark.slow
@needs_deepspeed
def test_zero3_online_two_processes(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = write_words(tmp_path / "words.jsonl", ["river", "stone", "cloud", "bread"])
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, data, tmp_path / "out", mode="online",
                          shuffle_dataset=False)
    result, records = launch_sharded(config, tmp_path, mode="zero3")
    assert result.returncode == 0, result.stderr[-4000:]
    assert len(records) == 2 and records[0]["calls"] == records[1]["calls"] > 0, records
    assert all(r["distributed_type"] == TYPES["zero3"] and r["sharded"] for r in records), records
    assert_trained_and_reloads(tiny_model_dir, tmp_path / "out")
