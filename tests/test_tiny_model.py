"""The tiny offline model: loads through the Auto classes, tokenizes as trained, is deterministic."""

from __future__ import annotations

import json

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

from r3.cli import main
from r3.tiny_model import IM_END, build_tiny_model

TEXTS = [
    "Using the numbers [3, 7, 25], create an equation that equals 46.  <answer> (25 - 3) * 7 </answer>",
    '[{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}]',
    "Unseen wörds, émojis 🙂 and\ttabs\n\n  and 12345 digits.",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
]


def test_auto_tokenizer_matches_the_trained_tokenizer(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trained = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
    for text in TEXTS:
        ids = tokenizer(text)["input_ids"]
        assert ids == trained.encode(text).ids
        assert tokenizer.decode(ids) == text


def test_special_tokens_and_padding(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tokenizer.eos_token == IM_END
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.padding_side == "left"
    for token in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert len(tokenizer(token)["input_ids"]) == 1
    batch = tokenizer(["a", "a longer text here"], padding=True)
    assert batch["input_ids"][0][0] == tokenizer.pad_token_id
    assert batch["attention_mask"][0][0] == 0


def test_chat_template_is_chatml(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = [{"role": "user", "content": "Make 10 from [2, 5]."}, {"role": "assistant", "content": "2 * 5"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>user\nMake 10 from [2, 5].<|im_end|>\n<|im_start|>assistant\n2 * 5<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False)
    assert ids == tokenizer(text)["input_ids"]


def test_model_loads_and_ends_turns_with_im_end(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    assert model.dtype == torch.float32
    assert model.config.model_type == "qwen2"
    assert 100_000 < model.num_parameters() < 1_000_000
    assert model.config.vocab_size == len(tokenizer)
    assert model.generation_config.eos_token_id == im_end
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
    logits = model(**tokenizer(["hello"], return_tensors="pt")).logits
    assert logits.shape[-1] == len(tokenizer)


def test_same_seed_same_files_other_seed_other_weights(tmp_path, tiny_model_dir):
    again = build_tiny_model(tmp_path / "again", seed=0)
    other = build_tiny_model(tmp_path / "other", seed=1)
    for name in ("tokenizer.json", "model.safetensors", "config.json"):
        assert (again / name).read_bytes() == (tiny_model_dir / name).read_bytes()
    assert (other / "tokenizer.json").read_bytes() == (again / "tokenizer.json").read_bytes()
    assert (other / "model.safetensors").read_bytes() != (again / "model.safetensors").read_bytes()


def test_build_leaves_global_rng_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_model(tmp_path / "m", seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_cli_writes_a_loadable_model(tmp_path, capsys):
    assert main(["tiny-model", str(tmp_path / "cli"), "--seed", "3"]) == 0
    assert "wrote a tiny model" in capsys.readouterr().out
    config = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert config["model_type"] == "qwen2"
    AutoModelForCausalLM.from_pretrained(tmp_path / "cli")


def test_cli_refuses_a_file_as_output(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["tiny-model", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_safetensors_weights_are_float32(tiny_model_dir):
    from safetensors import safe_open

    with safe_open(tiny_model_dir / "model.safetensors", framework="pt") as weights:
        assert all(weights.get_tensor(key).dtype == torch.float32 for key in weights.keys())  # noqa: SIM118 (not a dict)
