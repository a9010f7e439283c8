"""A local model folder checked before anything loads: its config, weights, tokenizer files and chat template.

Why: transformers reports a truncated `model.safetensors`, a `config.json` field of the wrong type or a chat template
that raises as a library exception deep inside `from_pretrained` or the first prompt, after the slow part has begun,
and without naming the file. These checks read only headers and small files (milliseconds), name the file and what is
wrong on one line, and run in `r3.preflight` before a run directory exists, so a refused model writes nothing.
A hub id, a GGUF file and a folder without config.json are left to the loader (`r3.models`).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from r3.errors import R3Error, shorten
from r3.rundir.paths import check_input_file

SMALL_JSON = 64 * 2**20  # config, tokenizer config and index files are KiB to a few MiB
HEADER_LIMIT = 100 * 2**20  # safetensors' own limit on its JSON header
INTEGER_FIELDS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                  "num_key_value_heads", "max_position_embeddings", "head_dim")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "spiece.model", "vocab.json", "vocab.txt", "tiktoken.model")


def check_model_files(model: str | Path) -> None:
    """One-line R3Error for a local Hugging Face model folder that cannot load; nothing for hub ids and GGUF."""
    folder = Path(model).expanduser()
    if not folder.is_dir() or not (folder / "config.json").exists():
        return
    config = _read_json(folder / "config.json")
    _check_config_fields(folder / "config.json", config)
    _check_tokenizer(folder)
    declared: dict[str, Any] = {}
    for path in sorted(folder.glob("*.safetensors")):
        tensors = safetensors_header(path)
        _check_shapes(path, tensors, config)
        declared.update(tensors)
    _check_layers(folder, declared, config)
    index = folder / "model.safetensors.index.json"
    if index.exists():
        shards = _read_json(index).get("weight_map", {})
        missing = sorted({str(s) for s in (shards.values() if isinstance(shards, dict) else [])
                          if not (folder / str(s)).is_file()})
        if missing:
            raise R3Error(f"{index} lists weight files that are not there: {', '.join(missing[:3])}")
    if "auto_map" not in config:  # custom code: read by transformers only with trust_remote_code, at load time
        _check_config_loads(folder)
    check_chat_template(folder)


def _read_json(path: Path) -> dict[str, Any]:
    check_input_file(path, "model file", SMALL_JSON)
    try:
        content = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as error:
        raise R3Error(f"{path}: not valid JSON ({shorten(str(error), 100)})") from None
    if not isinstance(content, dict):
        raise R3Error(f"{path}: expected a JSON object, got {type(content).__name__}")
    return content


def _check_config_fields(path: Path, config: dict[str, Any]) -> None:
    for name in INTEGER_FIELDS:
        value = config.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise R3Error(f"{path}: field '{name}' must be a non-negative integer, got {shorten(value, 60)}")
    if not isinstance(config.get("model_type", ""), str):
        raise R3Error(f"{path}: field 'model_type' must be a string, got {shorten(config['model_type'], 60)}")


def _check_config_loads(folder: Path) -> None:
    """transformers' own reading of config.json (its typed fields), without the weights."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(str(folder))
    except Exception as error:  # noqa: BLE001 - any failure here is the file's: name it on one line
        first = (str(error).strip().splitlines() or [type(error).__name__])
        raise R3Error(f"{folder / 'config.json'}: transformers cannot read it ({shorten(' '.join(first), 200)})") \
            from None


def _check_tokenizer(folder: Path) -> None:
    if not any((folder / name).is_file() for name in TOKENIZER_FILES) and not any(folder.glob("*.tiktoken")):
        raise R3Error(f"{folder}: no tokenizer files ({', '.join(TOKENIZER_FILES[:3])} or vocab.json + merges.txt); "
                      "copy them from the model it was trained from")


def safetensors_header(path: Path) -> dict[str, Any]:
    """The tensors a safetensors file declares, after checking that the file holds all of them: a truncated file,
    a header length past the end or a header that is not JSON is one line naming the file."""
    check_input_file(path, "weights file")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise R3Error(f"{path}: not a safetensors file ({size} bytes, too short for a header); it is truncated "
                          "or was not fully copied")
        (length,) = struct.unpack("<Q", head)
        if length > HEADER_LIMIT or 8 + length > size:
            raise R3Error(f"{path}: its header says {length} bytes, but the file has {size}; it is truncated or "
                          "corrupt")
        raw = handle.read(length)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise R3Error(f"{path}: its header is not valid JSON ({shorten(str(error), 80)}); the file is corrupt") \
            from None
    if not isinstance(header, dict):
        raise R3Error(f"{path}: its header is not a JSON object; the file is corrupt")
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    end = 0
    for name, info in tensors.items():
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise R3Error(f"{path}: tensor {shorten(name, 60)} has no valid data offsets; the file is corrupt")
        end = max(end, offsets[1])
    if 8 + length + end > size:
        raise R3Error(f"{path}: the tensors need {8 + length + end} bytes, but the file has {size}; it is truncated "
                      "(an interrupted download or copy)")
    return tensors


FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")
# tensor name suffix -> the config fields its shape must equal (Llama, Qwen, Mistral and most decoder layouts)
SHAPES = {"embed_tokens.weight": ("vocab_size", "hidden_size"), "mlp.up_proj.weight": ("intermediate_size",
                                                                                        "hidden_size"),
          "mlp.gate_proj.weight": ("intermediate_size", "hidden_size"),
          "mlp.down_proj.weight": ("hidden_size", "intermediate_size")}


def _check_shapes(path: Path, tensors: dict[str, Any], config: dict[str, Any]) -> None:
    """Shapes the config decides, against the weights: a checkpoint of another model (or size) is named here,
    not as a size-mismatch traceback once the weights load."""
    for name, info in tensors.items():
        fields = next((f for suffix, f in SHAPES.items() if name.endswith(suffix)), None)
        expected = [config.get(f) for f in fields] if fields else None
        floating = isinstance(info, dict) and info.get("dtype") in FLOAT_DTYPES  # not packed (quantized) weights
        shape = info.get("shape") if floating else None
        if expected and all(isinstance(v, int) for v in expected) and isinstance(shape, list) and shape != expected:
            said = " and ".join(f"{f} {v}" for f, v in zip(fields, expected))
            raise R3Error(f"{path}: {name} has shape {shape}, but config.json says {said}; the weights and the "
                          "config are of different models")


def _check_layers(folder: Path, tensors: dict[str, Any], config: dict[str, Any]) -> None:
    """As many decoder layers in the weights as config.json's num_hidden_layers (fewer would load as random ones)."""
    layers = config.get("num_hidden_layers") if "text_config" not in config else None  # multimodal: its own
    found = {int(name.split(".")[2]) for name in tensors
             if name.startswith("model.layers.") and name.split(".")[2].isdigit()}
    if isinstance(layers, int) and found and len(found) != layers:
        raise R3Error(f"{folder}: the weights hold {len(found)} decoder layers, but config.json says "
                      f"num_hidden_layers {layers}; the weights and the config are of different models")


def chat_template_text(folder: Path) -> tuple[Path, str] | None:
    """(the file it is in, the chat template) as transformers would find it, or None."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        check_input_file(jinja, "chat template", SMALL_JSON)
        return jinja, jinja.read_text(encoding="utf-8", errors="replace")
    for name in ("chat_template.json", "tokenizer_config.json"):
        path = folder / name
        if not path.is_file():
            continue
        template = _read_json(path).get("chat_template")
        if isinstance(template, list):  # named templates: the default one
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            template = named.get("default")
        if isinstance(template, str):
            return path, template
    return None


def check_chat_template(folder: Path) -> None:
    """The chat template parses and renders a one-message conversation (what every r3 prompt starts with)."""
    found = chat_template_text(folder)
    if found is None:
        return
    path, template = found
    from jinja2 import TemplateError
    from transformers.utils.chat_template_utils import _compile_jinja_template

    special = _read_json(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
    tokens = {k: v for k, v in special.items() if k in ("bos_token", "eos_token") and isinstance(v, str)}
    try:
        compiled = _compile_jinja_template(template)
        compiled.render(messages=[{"role": "user", "content": "r3 chat template check"}], add_generation_prompt=True,
                        **tokens)
    except TemplateError as error:
        raise R3Error(f"{path}: the chat template fails ({type(error).__name__}: {shorten(str(error), 120)})") \
            from None


def check_same_shapes(checkpoint: str | Path, model: str | Path) -> None:
    """A checkpoint to resume against the model being trained: every tensor both declare has the same shape (a
    checkpoint of another model is one line here, not a size-mismatch traceback after the model loaded). Nothing
    to compare (a hub id, a GGUF file, adapter weights) passes."""
    checkpoint, model = Path(checkpoint), Path(model).expanduser()
    if not model.is_dir() or not checkpoint.is_dir():
        return
    ours = {name: info for path in sorted(model.glob("*.safetensors")) for name, info in _shapes(path)}
    for path in sorted(checkpoint.glob("*.safetensors")):
        for name, info in _shapes(path):
            if name in ours and info != ours[name]:
                raise R3Error(f"{path}: {name} has shape {info}, but {model} has {ours[name]}; the checkpoint is of "
                              "another model: resume with the model it was trained from, or choose another "
                              "output_dir")


def _shapes(path: Path) -> list[tuple[str, Any]]:
    return [(name, info.get("shape")) for name, info in safetensors_header(path).items() if isinstance(info, dict)]

