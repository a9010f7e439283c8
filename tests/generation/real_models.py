"""Tiny random-weight models of four real chat architectures, with their real tokenizers and chat templates.

The tokenizer folders live in ../shared/real/tokenizers (beside the checkout; see its SOURCES.md). Each tiny model is
the folder's config.json shrunk to hidden size 64 and 2 layers: the real vocabulary, special tokens, chat template
and generation config, random weights. Building one takes seconds; tests build each once per module.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REAL_TOKENIZERS = Path(__file__).resolve().parents[2] / ".." / "shared" / "real" / "tokenizers"
MODELS = ("qwen2.5-0.5b-instruct", "qwen3-0.6b", "llama-3.2-1b-instruct", "phi-3.5-mini-instruct")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json")


def real_dir(name: str) -> Path:
    """The tokenizer folder of `name`, or skip the test when ../shared/real is absent."""
    path = REAL_TOKENIZERS / name
    if not (path / "tokenizer.json").is_file():
        pytest.skip(f"real tokenizers not found at {REAL_TOKENIZERS} (../shared/real beside the checkout)")
    return path


def build_real_tiny(name: str, out: Path, seed: int = 0) -> Path:
    """Write a tiny random model of `name`'s architecture (hidden 64, 2 layers) with its real tokenizer to `out`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    source = real_dir(name)
    config = AutoConfig.from_pretrained(source)
    config.hidden_size = 64
    config.intermediate_size = 128
    config.num_hidden_layers = 2
    config.num_attention_heads = 4
    config.num_key_value_heads = 2
    if getattr(config, "head_dim", None) is not None:
        config.head_dim = 16
    if hasattr(config, "layer_types") and config.layer_types is not None:
        config.layer_types = config.layer_types[:2]
    rope = getattr(config, "rope_parameters", None) or {}
    if "short_factor" in rope:  # longrope factors are per rotary dimension of the full-size model
        config.rope_parameters = {"rope_type": "default", "rope_theta": rope.get("rope_theta", 10000.0),
                                  "partial_rotary_factor": rope.get("partial_rotary_factor", 1.0)}
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out)
    for file in TOKENIZER_FILES:
        shutil.copy(source / file, out / file)
    return out
