"""Field groups: a command's config inherits the groups it needs, so a shared setting has one name, one default
and one help text in every command (the field's help text is its documentation: `r3 COMMAND --help`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from r3.config.base import option


@dataclass
class TaskArgs:
    """What to solve and where the examples come from."""

    task: str | None = option(None, "task name (see `r3 tasks`) or package.module:ClassName")
    task_options: dict | str | None = option(
        None, "the task's options as a mapping, e.g. {match: bfcl}; on the command line also --task-option KEY=VALUE")
    data: str | None = option(
        None, "data source: sample:NAME, a .jsonl/.json/.csv/.tsv/.parquet file, a saved dataset directory or a hub "
              "id (default: the task's dataset)")
    data_config: str | None = option(
        None, "the dataset's configuration (subset) name, e.g. main for openai/gsm8k: a hub dataset's, or a local "
              "dataset folder's (README.md `configs:`); default: the task's for its own dataset")
    split: str | None = option(None, "split, with optional slicing: train, test[:100], train[100:150] (default: the "
                                     "task's)")
    limit: int | None = option(None, "use only the first N examples (after the split)")
    columns: dict | str | None = option(
        None, "dataset column per task field, e.g. {nums: numbers, target: goal, id: unique_id}")
    system_prompt: str | None = option(None, "system prompt template ({field} = the example's fields)")
    prompt_template: str | None = option(None, "first-attempt user prompt template ({field} = the example's fields)")
    reflection_instruction: str | None = option(
        None, "user turn asking for a reflection ({reason} = the verifier's reason; default: the task's)")
    retry_instruction: str | None = option(None, "user turn asking for a retry (default: the task's)")
    skip_bad_lines: bool = option(False, "skip and count malformed data rows instead of stopping at the first")

    def prompt_templates(self):
        """The prompt overrides as the task layer takes them (None when there are none)."""
        from r3.types import PromptTemplates

        values = (self.system_prompt, self.prompt_template, self.reflection_instruction, self.retry_instruction)
        if all(value is None for value in values):
            return None
        return PromptTemplates(*values)

    def build_task(self):
        """The configured task: options, column mapping and prompt templates applied."""
        from r3.tasks import get_task

        return get_task(self.task, self.task_options, columns=self.columns, prompts=self.prompt_templates())


@dataclass
class ModelArgs:
    """Which model."""

    model: str | None = option(None, "hub id, local model directory or .gguf file (converted once, see r3.models)")
    chat_template_path: str | None = option(
        None, "a Jinja chat template file for a model that has none (TRL's name); recorded in the run identity")


@dataclass
class BackendArgs:
    """Which engine generates (eval, mine)."""

    backend: Literal["hf", "vllm"] = option("hf", "generation backend: hf (transformers) or vllm")


@dataclass
class TemplateArgs:
    """Chat-template options (TRL's GRPOConfig has the same field for r3 train)."""

    chat_template_kwargs: dict | str | None = option(
        None, "options for the chat template, e.g. {enable_thinking: false}; Llama's date is pinned unless given")


@dataclass
class ReasoningArgs:
    """How earlier turns are shown (eval, mine and train alike)."""

    strip_reasoning: bool = option(
        False, "show only the text after </think> of earlier attempts and reflections (default: all of it)")


@dataclass
class VllmArgs:
    """vLLM engine settings (backend vllm)."""

    vllm_tensor_parallel_size: int = option(1, "GPUs per vLLM engine (tensor parallelism)")
    vllm_gpu_memory_utilization: float = option(0.9, "share of GPU memory vLLM may take")
    vllm_max_model_length: int | None = option(None, "vLLM context length (default: the model's)")
    vllm_data_parallel_size: int = option(1, "vLLM engines per node (data parallelism)")


def generator_options(config: Any) -> dict[str, Any]:
    """Keyword arguments for `r3.generation.load_generator` from a config's template and vLLM fields."""
    options: dict[str, Any] = {"chat_template_kwargs": getattr(config, "chat_template_kwargs", None)}
    if getattr(config, "backend", "hf") == "vllm":
        options.update(tensor_parallel_size=config.vllm_tensor_parallel_size,
                       gpu_memory_utilization=config.vllm_gpu_memory_utilization,
                       max_model_len=config.vllm_max_model_length, seed=config.seed)
        if config.vllm_data_parallel_size > 1:
            options["data_parallel_size"] = config.vllm_data_parallel_size
    return options


@dataclass
class SamplingArgs:
    """How attempts and reflections are sampled (the same names and defaults as TRL's GRPOConfig)."""

    temperature: float = option(1.0, "sampling temperature; 0 = greedy")
    top_p: float = option(1.0, "nucleus sampling: keep the smallest set of tokens with this much probability")
    top_k: int = option(0, "keep only the K most likely tokens; 0 = no top-k filter")
    seed: int = option(42, "run seed; each sample's seed is derived from it")


@dataclass
class AttemptBudgetArgs:
    """Token budget of attempts (shared by eval, mine and train)."""

    attempt_max_new_tokens: int = option(512, "token budget of each attempt (the first and every retry)")


@dataclass
class ReflectionBudgetArgs:
    """Token budget of reflections (shared by eval and train)."""

    reflection_max_new_tokens: int = option(256, "token budget of each reflection")


@dataclass
class ThreadArgs:
    """CPU threads (eval, mine, train, forgetting); not part of a run's identity."""

    threads: int | None = option(
        None, "CPU threads torch uses (torch.set_num_threads); default: torch's own, one per core. On a machine "
              "shared with other jobs, 1 or 2 spends far less CPU for about the same speed (docs/benchmarks/real_model.md)")

    @contextlib.contextmanager
    def torch_threads(self) -> Iterator[None]:
        """torch's intra-op thread count set to `threads` for the block and restored after it (no-op when unset)."""
        if self.threads is None:
            yield
            return
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)


@dataclass
class ShardArgs:
    """Splitting eval or mine over processes or machines (r3.sharding); not part of a run's identity."""

    num_shards: int | None = option(
        None, "split the queries over N shards (job arrays); default: WORLD_SIZE under torchrun/accelerate, else 1")
    shard_index: int | None = option(None, "this process's shard, 0..num_shards-1 (default: RANK)")


@dataclass
class RunArgs:
    """Where a command writes, and how it treats an earlier run there."""

    out: str | None = option(None, "output directory (a rerun with the same settings resumes)")
    overwrite: bool = option(False, "delete the files an earlier run wrote in --out and start again")
    progress: bool = option(True, "show progress bars (--no-progress hides them)")
    batch_size: int = option(32, "problems per generate call; finished batches are written to disk")
