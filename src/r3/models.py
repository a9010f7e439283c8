"""Resolve a model path: a hub id, a Hugging Face folder, or a GGUF file (llama.cpp, Ollama) turned into a folder.

    from r3.models import resolve_model
    resolve_model("Qwen/Qwen2.5-1.5B-Instruct")     # unchanged
    resolve_model("models/smollm2.Q4_1.gguf")       # -> ~/.cache/huggingface/r3-gguf/smollm2.Q4_1-<key>
    resolve_model("models/")                        # a folder holding one .gguf and no config.json: the same

Every r3 command that loads a model or its tokenizer calls `resolve_model` first, so `--model file.gguf` works
wherever `--model` does. Why convert once into a folder instead of passing `gguf_file=` to each `from_pretrained`:
dequantizing takes most of a minute, TRL's trainer and vLLM take a folder, and `save_pretrained` of the trained
model needs a model that transformers will serialize. The folder is float32 (the GGUF's quantization is undone, not
kept), written under `cache_dir()` in a temporary folder and renamed into place, so an interrupted conversion leaves
no half-written model; two processes converting the same file at once both succeed and one result is kept.

The cache key is the file's fingerprint (`r3.rundir.fingerprints.fingerprint_file`: size, modification time, hash of
the first MiB), so a replaced file is converted again. Run identities keep the GGUF path as the model, and so
record the GGUF file's own fingerprint. Clear the cache with `rm -rf "$(python -c 'import r3.models as m;
print(m.cache_dir())')"` (or delete single folders: each is one converted file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from r3.errors import R3Error

logger = logging.getLogger(__name__)

SOURCE_FILE = "r3_gguf_source.json"  # written into each converted folder: which file it came from
TEMPLATE_SOURCE_FILE = "r3_template_source.json"  # written into a folder made by with_chat_template
NOT_ARCHITECTURES = ("general", "tokenizer")  # keys of transformers' GGUF table that are not model types


def cache_dir() -> Path:
    """Where converted GGUF models live: `$R3_GGUF_CACHE`, else `<HF_HOME>/r3-gguf` (HF_HOME follows
    huggingface_hub: `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`)."""
    override = os.environ.get("R3_GGUF_CACHE")
    if override:
        return Path(override).expanduser()
    from huggingface_hub import constants

    return Path(constants.HF_HOME).expanduser() / "r3-gguf"


def gguf_file(model: str | Path) -> Path | None:
    """The GGUF file `model` names: a `.gguf` file, or a folder without config.json that holds exactly one .gguf.
    None for anything else (a hub id, a Hugging Face folder). A folder holding several is an R3Error listing them."""
    path = Path(model).expanduser()
    if path.is_file():
        return path if path.suffix.lower() == ".gguf" else None
    if not path.is_dir() or (path / "config.json").is_file():
        return None
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".gguf")
    if len(found) > 1:
        names = ", ".join(p.name for p in found[:5])
        raise R3Error(f"model folder '{model}' holds {len(found)} GGUF files ({names}): pass one file as --model")
    return found[0] if found else None


def is_gguf(model: str | Path) -> bool:
    return gguf_file(model) is not None


def resolve_model(model: str | Path) -> str:
    """A path or hub id that `from_pretrained` loads: `model` itself, or for a GGUF the converted folder (converted
    now when the cache has no folder for this file's fingerprint)."""
    source = gguf_file(model)
    if source is None:
        return str(model)
    target = cache_dir() / _cache_name(source)
    if not (target / "config.json").is_file():
        convert_gguf(source, target)
    return str(target)


def with_chat_template(model: str | Path, template_path: str | Path) -> str:
    """A folder that is `model` (a local folder or GGUF) with the chat template of a Jinja file (TRL's
    `chat_template_path`): for models that ship none (base models, some GGUF files). Files are linked, not copied,
    under `cache_dir()/templated/`, keyed by the model's and the template's fingerprints; the run identity records the
    folder's files, the template among them. Applying the same template to its own result returns it unchanged."""
    from r3.rundir.fingerprints import fingerprint_model

    template = Path(template_path).expanduser()
    try:
        text = template.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise R3Error(f"chat_template_path '{template_path}': cannot read it ({error.__class__.__name__})") from None
    if not text.strip():
        raise R3Error(f"chat_template_path '{template_path}' is empty")
    folder = Path(resolve_model(model)).expanduser()
    if not (folder / "config.json").is_file():
        raise R3Error(f"chat_template_path needs a local model folder or .gguf file, got '{model}' (download it first)")
    if (folder / "chat_template.jinja").is_file() and (folder / "chat_template.jinja").read_text() == text \
            and (folder / TEMPLATE_SOURCE_FILE).is_file():
        return str(folder)
    key = hashlib.sha256(json.dumps([fingerprint_model(str(folder)), text], sort_keys=True).encode()).hexdigest()
    target = cache_dir() / "templated" / f"{folder.name}-{key[:12]}"
    if (target / TEMPLATE_SOURCE_FILE).is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for item in folder.iterdir():
            if item.is_file() and item.name not in ("chat_template.jinja", "chat_template.json"):
                (scratch / item.name).symlink_to(item.resolve())
        (scratch / "chat_template.jinja").write_text(text, encoding="utf-8")
        (scratch / TEMPLATE_SOURCE_FILE).write_text(json.dumps({"model": str(folder), "template": str(template)}))
        try:
            os.rename(scratch, target)
        except OSError:
            if not (target / TEMPLATE_SOURCE_FILE).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return str(target)


def _cache_name(source: Path) -> str:
    from r3.rundir.fingerprints import fingerprint_file

    fingerprint = json.dumps(fingerprint_file(source), sort_keys=True)
    return f"{source.stem}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}"


def gguf_architecture(source: Path) -> str:
    """`general.architecture` of a GGUF file (read from its header, no tensors loaded); R3Error if unreadable."""
    try:
        from gguf import GGUFReader
    except ImportError:
        raise R3Error("reading GGUF models needs the gguf package: pip install 'r3-reflect[gguf]'") from None
    try:
        field = GGUFReader(str(source)).fields["general.architecture"]
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    except (KeyError, ValueError, OSError, IndexError) as error:
        raise R3Error(f"cannot read GGUF file '{source}': {str(error)[:200]}") from None


def check_architecture(source: Path) -> str:
    """The file's architecture, or one R3Error line naming the architectures transformers can load from GGUF."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    architecture = gguf_architecture(source)
    supported = [name for name in GGUF_SUPPORTED_ARCHITECTURES if name not in NOT_ARCHITECTURES]
    if architecture.replace("moe", "_moe").replace("-", "_") not in supported and architecture not in supported:
        raise R3Error(f"GGUF file '{source.name}' holds a '{architecture}' model, which transformers cannot load from "
                      f"GGUF; it can load: {', '.join(supported)}")
    return architecture


def convert_gguf(source: Path, target: Path) -> Path:
    """Dequantize `source` into a Hugging Face folder at `target` (float32 weights, tokenizer, chat template).

    Written into a temporary folder beside `target` and renamed, so `target` is either complete or absent."""
    architecture = check_architecture(source)
    logger.info("converting GGUF %s (%s) into %s, once; later runs reuse it", source, architecture, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model, tokenizer = _load_gguf(source)
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        (scratch / SOURCE_FILE).write_text(json.dumps({"gguf": str(source.resolve()), "architecture": architecture},
                                                      indent=2))
        try:
            os.rename(scratch, target)
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent conversion that finished first
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _load_gguf(source: Path) -> tuple[Any, Any]:
    """Model (float32) and tokenizer from a GGUF file, with the GGUF quantizer detached so that `save_pretrained`
    works (transformers refuses to serialize a model it loaded "quantized with gguf", even once dequantized)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(source.parent), source.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as error:
        raise R3Error(f"cannot convert GGUF file '{source}': {str(error).splitlines()[0][:200]}") from None
    model.hf_quantizer = None
    for holder in (model, model.config):
        if hasattr(holder, "quantization_config"):
            delattr(holder, "quantization_config")
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    return model, tokenizer


# llama.cpp's GGUF names of Qwen2 weights (transformers' loader maps them back)
_LAYER_NAMES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
}


def _gguf_name(name: str) -> str:
    """`model.layers.0.self_attn.q_proj.weight` -> `blk.0.attn_q.weight`."""
    if name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if name == "model.norm.weight":
        return "output_norm.weight"
    parts = name.split(".")
    module, kind = ".".join(parts[3:-1]), parts[-1]
    return f"blk.{parts[2]}.{_LAYER_NAMES[module]}.{kind}"


def write_qwen2_gguf(model_dir: str | Path, path: str | Path, *, architecture: str = "qwen2",
                     chat_template: bool = True) -> Path:
    """A Qwen2 model folder with a byte-level BPE tokenizer (what `r3.tiny_model` builds) as a float32 GGUF file, the
    way llama.cpp lays one out: how the tests make a GGUF without a download. `architecture` is written as given,
    so a test can write a file transformers refuses."""
    import gguf
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    config = model.config
    path = Path(path)
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    special = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([token for token, _ in vocab])
    writer.add_token_types([3 if index in special else 1 for _, index in vocab])  # 3 = control, 1 = normal
    backend = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_token_merges([" ".join(merge) if isinstance(merge, list) else merge for merge in backend])
    writer.add_bos_token_id(config.bos_token_id)
    writer.add_eos_token_id(config.eos_token_id)
    writer.add_pad_token_id(config.pad_token_id)
    if chat_template:
        writer.add_chat_template(tokenizer.chat_template)
    for name, tensor in model.state_dict().items():
        if name != "lm_head.weight":  # tied to the embeddings
            writer.add_tensor(_gguf_name(name), tensor.float().numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
