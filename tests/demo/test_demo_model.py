"""The demo model's tokenizer and the committed demo model (src/r3/demo/model_files/, package data)."""

import pytest

from r3.demo.corpus import CorpusMix, episodes
from r3.demo.model import MODEL_DIR, build_model, build_tokenizer, save
from r3.demo.pretrain import IGNORE, collate, encode
from r3.demo.task import DemoCountdownTask

TASK = DemoCountdownTask()


@pytest.fixture(scope="module")
def sample():
    stream = episodes(5, TASK, CorpusMix())
    return [next(stream) for _ in range(300)]


@pytest.fixture(scope="module")
def tokenizer(sample):
    return build_tokenizer(m["content"] for e in sample for m in e.messages)


def test_text_round_trips_without_unknown_tokens(tokenizer, sample):
    for e in sample[:50]:
        text = tokenizer.apply_chat_template(list(e.messages), tokenize=False)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids) == text
        for m in e.messages:  # what the generator decodes is what goes back into the next prompt
            content_ids = tokenizer(m["content"], add_special_tokens=False)["input_ids"]
            assert tokenizer.decode(content_ids, skip_special_tokens=True) == m["content"]


def test_encode_matches_the_chat_template_and_labels_only_assistant_turns(tokenizer, sample):
    e = next(x for x in sample if not x.first_correct)
    ids, labels = encode(tokenizer, e.messages)
    text = tokenizer.apply_chat_template(list(e.messages), tokenize=False)
    assert ids == tokenizer(text, add_special_tokens=False)["input_ids"]
    learned = tokenizer.decode([t for t in labels if t != IGNORE])
    assistant = [m["content"] for m in e.messages if m["role"] == "assistant"]
    assert learned == "<|im_end|>".join(assistant) + "<|im_end|>"
    batch = collate(tokenizer, [encode(tokenizer, e.messages) for e in sample[:4]])
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape


def test_saved_directory_loads_with_auto_classes(tokenizer, sample, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    save(build_model(tokenizer, seed=0), tokenizer, tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = tokenizer.apply_chat_template(list(sample[0].messages), tokenize=False, add_generation_prompt=True)
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert loaded.padding_side == "left" and loaded.eos_token == "<|im_end|>"
    assert AutoModelForCausalLM.from_pretrained(tmp_path).config.vocab_size == len(tokenizer)


@pytest.mark.skipif(not (MODEL_DIR / "model.safetensors").exists(), reason="demo model not built")
def test_committed_demo_model_is_small_and_round_trips(sample):
    from transformers import AutoTokenizer

    directory = MODEL_DIR
    assert sum(f.stat().st_size for f in directory.iterdir()) < 20 * 2**20
    loaded = AutoTokenizer.from_pretrained(directory)
    for e in sample[:20]:
        text = loaded.apply_chat_template(list(e.messages), tokenize=False)
        ids = loaded(text, add_special_tokens=False)["input_ids"]
        assert loaded.unk_token_id not in ids and loaded.decode(ids) == text


def test_pretraining_is_deterministic_and_learns(tokenizer):
    import torch

    from r3.demo.pretrain import PretrainConfig, pretrain

    config = PretrainConfig(seed=3, steps=4, batch_size=8, warmup_steps=1, log_every=2)
    runs = []
    for _ in range(2):
        model = build_model(tokenizer, seed=config.seed)
        history = pretrain(model, tokenizer, TASK, CorpusMix(), config)
        runs.append((model.state_dict(), history))
    (first, history), (second, _) = runs
    assert all(torch.equal(first[name], second[name]) for name in first)
    initial = build_model(tokenizer, seed=config.seed).state_dict()
    assert not all(torch.equal(first[name], initial[name]) for name in first)  # it trained
    assert [h["step"] for h in history] == [2, 4]
