"""r3.rundir.model_files: what a healthy model folder must pass, and what the checks must not flag."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from r3.errors import R3Error
from r3.rundir.model_files import check_chat_template, check_model_files, safetensors_header

REAL_TOKENIZERS = Path(__file__).resolve().parents[2].parent / "shared" / "real" / "tokenizers"


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int], int]]) -> None:
    """A safetensors file declaring `tensors` (name -> dtype, shape, bytes), with zeros as data."""
    header, offset = {}, 0
    for name, (dtype, shape, size) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


def model_folder(path: Path, config: dict, tensors: dict) -> Path:
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"model_type": "llama", **config}))
    (path / "tokenizer.json").write_text("{}")
    write_safetensors(path / "model.safetensors", tensors)
    return path


def test_the_tiny_model_passes(tiny_model_dir):
    check_model_files(tiny_model_dir)
    assert "model.embed_tokens.weight" in safetensors_header(tiny_model_dir / "model.safetensors")


def test_packed_quantized_weights_and_vision_layers_are_not_flagged(tmp_path):
    tensors = {"model.embed_tokens.weight": ("F16", [10, 4], 80),
               "model.layers.0.mlp.up_proj.weight": ("U8", [16, 1], 16),  # 4-bit packed: not [intermediate, hidden]
               "model.layers.0.self_attn.q_proj.weight": ("F16", [4, 4], 32),
               "vision.encoder.layers.5.fc.weight": ("F16", [2, 2], 8)}  # another stack's layers
    folder = model_folder(tmp_path / "m", {"vocab_size": 10, "hidden_size": 4, "intermediate_size": 8,
                                           "num_hidden_layers": 1, "num_attention_heads": 1,
                                           "num_key_value_heads": 1}, tensors)
    check_model_files(folder)  # loads through transformers' AutoConfig as well: a plain llama config


def test_a_header_that_promises_more_than_the_file_holds(tmp_path):
    path = tmp_path / "w.safetensors"
    write_safetensors(path, {"a": ("F32", [4], 16)})
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(R3Error, match="the tensors need .* bytes, but the file has") as error:
        safetensors_header(path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name", ["qwen2.5-0.5b-instruct", "llama-3.2-1b-instruct", "phi-3.5-mini-instruct",
                                  "qwen3-0.6b"])
def test_real_chat_templates_render(name):
    folder = REAL_TOKENIZERS / name
    if not folder.is_dir():
        pytest.skip(f"no {folder}")
    check_chat_template(folder)


def test_a_checkpoint_of_another_model_is_named(tmp_path):
    from r3.rundir.model_files import check_same_shapes

    model = model_folder(tmp_path / "model", {"vocab_size": 10, "hidden_size": 4},
                         {"model.embed_tokens.weight": ("F32", [10, 4], 160)})
    same, other = tmp_path / "checkpoint-2", tmp_path / "checkpoint-4"
    for folder, shape in ((same, [10, 4]), (other, [10, 8])):
        folder.mkdir()
        write_safetensors(folder / "model.safetensors", {"model.embed_tokens.weight": ("F32", shape, 40 * shape[1])})
    check_same_shapes(same, model)
    check_same_shapes(other, "org/hub-id")  # nothing local to compare with
    with pytest.raises(R3Error, match=r"embed_tokens.weight has shape \[10, 8\], but .*model has \[10, 4\]"):
        check_same_shapes(other, model)


def test_a_model_with_custom_code_is_left_to_the_loader(tmp_path):
    """Its config names classes in its own .py files (auto_map): transformers reads it only with trust_remote_code."""
    folder = model_folder(tmp_path / "m", {"model_type": "my_arch", "auto_map": {"AutoConfig": "cfg.MyConfig"}},
                          {"model.embed_tokens.weight": ("F32", [2, 2], 16)})
    check_model_files(folder)
