"""GGUF models (r3.models): a tiny GGUF written here with the `gguf` package, converted once, evaluated by `r3 eval`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("gguf")

from r3.cli import main
from r3.errors import R3Error
from r3.models import cache_dir, gguf_file, resolve_model, write_qwen2_gguf


@pytest.fixture(scope="module")
def tiny_gguf(tiny_model_dir, tmp_path_factory) -> Path:
    return write_qwen2_gguf(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny-qwen2.gguf")


@pytest.fixture
def gguf_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("R3_GGUF_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_gguf_converts_once_into_a_cached_folder_that_computes_what_the_original_does(
        tiny_gguf, tiny_model_dir, gguf_cache):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(resolve_model(tiny_gguf))
    assert folder.parent == gguf_cache == cache_dir()
    assert json.loads((folder / "r3_gguf_source.json").read_text())["architecture"] == "qwen2"
    assert resolve_model(tiny_gguf.parent) == str(folder)  # a folder holding the file: the same conversion
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert resolve_model(tiny_gguf) == str(folder) and (folder / "config.json").stat().st_mtime_ns == stamp
    assert not [p for p in gguf_cache.iterdir() if p.name.startswith(".")]  # no temporary folder left behind

    original, converted = (AutoModelForCausalLM.from_pretrained(d) for d in (tiny_model_dir, folder))
    tokenizer, loaded = AutoTokenizer.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(folder)
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Make 24 using 3 4 5"}], tokenize=False,
                                         add_generation_prompt=True)
    assert loaded.chat_template == tokenizer.chat_template
    ids = tokenizer(text, return_tensors="pt").input_ids
    assert loaded(text, return_tensors="pt").input_ids.tolist() == ids.tolist()
    with torch.no_grad():
        torch.testing.assert_close(converted(ids).logits, original(ids).logits, atol=1e-4, rtol=1e-4)


def test_r3_eval_runs_on_a_gguf_and_records_its_fingerprint(tiny_gguf, gguf_cache, tmp_path):
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(tiny_gguf), "--task", "countdown", "--data", "sample:countdown",
                 "--limit", "4", "--out", str(out), "--attempt-max-new-tokens", "8",
                 "--reflection-max-new-tokens", "8", "--batch-size", "4", "--no-progress"]) == 0
    assert json.loads((out / "summary.json").read_text())["summary"]["n_problems"] == 4
    identity = json.loads((out / "run.json").read_text())
    assert tiny_gguf.name in json.dumps(identity)
    assert tiny_gguf.name in identity["model_files"]


def test_a_changed_gguf_is_converted_again(tiny_model_dir, gguf_cache, tmp_path):
    path = write_qwen2_gguf(tiny_model_dir, tmp_path / "m.gguf")
    first = resolve_model(path)
    write_qwen2_gguf(tiny_model_dir, path, chat_template=False)
    assert resolve_model(path) != first


def test_an_architecture_transformers_cannot_load_is_one_line_naming_those_it_can(tiny_model_dir, gguf_cache,
                                                                                     tmp_path):
    path = write_qwen2_gguf(tiny_model_dir, tmp_path / "odd.gguf", architecture="rwkv7")
    with pytest.raises(R3Error, match=r"'rwkv7' model, which transformers cannot load .*llama.*qwen2") as error:
        resolve_model(path)
    assert "\n" not in str(error.value)
    assert not list(gguf_cache.glob("*"))  # refused before anything was written


def test_a_folder_with_several_ggufs_is_refused_and_other_models_pass_through(tmp_path, tiny_model_dir):
    (tmp_path / "a.gguf").write_bytes(b"x")
    (tmp_path / "b.gguf").write_bytes(b"x")
    with pytest.raises(R3Error, match="holds 2 GGUF files"):
        gguf_file(tmp_path)
    assert resolve_model("org/some-model") == "org/some-model"
    assert resolve_model(tiny_model_dir) == str(tiny_model_dir)


def test_a_model_without_a_chat_template_takes_one_from_a_file_recorded_in_the_run_identity(
        tiny_model_dir, gguf_cache, tmp_path):
    import hashlib

    from transformers import AutoTokenizer

    from r3.models import with_chat_template

    bare = write_qwen2_gguf(tiny_model_dir, tmp_path / "bare.gguf", chat_template=False)
    assert AutoTokenizer.from_pretrained(resolve_model(bare)).chat_template is None
    text = AutoTokenizer.from_pretrained(tiny_model_dir).chat_template.replace("<|im_start|>", "<|im_start|> ")
    template = tmp_path / "chat.jinja"
    template.write_text(text)
    folder = with_chat_template(bare, template)
    assert AutoTokenizer.from_pretrained(folder).chat_template == text
    assert with_chat_template(folder, template) == folder == with_chat_template(bare, template)

    out = tmp_path / "eval"
    args = ["eval", "--model", str(bare), "--task", "countdown", "--data", "sample:countdown", "--limit", "2",
            "--out", str(out), "--attempt-max-new-tokens", "4", "--reflection-max-new-tokens", "4", "--no-progress"]
    assert main([*args, "--chat_template_path", str(template)]) == 0
    identity = json.loads((out / "run.json").read_text())
    assert identity["chat_template_path"] == str(template)
    assert identity["chat_template"]["template_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert "chat_template.jinja" in identity["model_files"]


def test_a_chat_template_file_that_cannot_be_read_is_one_line(tiny_model_dir, tmp_path):
    from r3.models import with_chat_template

    with pytest.raises(R3Error, match="chat_template_path .*missing.jinja.*cannot read"):
        with_chat_template(tiny_model_dir, tmp_path / "missing.jinja")
    with pytest.raises(R3Error, match="local model folder"):
        (tmp_path / "t.jinja").write_text("{{ messages }}")
        with_chat_template("org/hub-model", tmp_path / "t.jinja")
