"""HFGenerator on the tiny local model: batching, sampling, stopping, seeding and errors."""

from __future__ import annotations

import random

import pytest
import torch

from r3.errors import R3Error
from r3.generation import load_generator
from r3.generation.hf import HFGenerator, stop_token_ids
from r3.types import SamplingParams

WORDS = [
    "the",
    "numbers",
    "target",
    "equation",
    "reflect",
    "wrong",
    "tool",
    "query",
    "answer",
    "city",
    "3",
    "7",
    "25",
    "+",
    "-",
    "*",
    "(",
    ")",
    "<answer>",
]


def make_prompts(count: int, seed: int = 0) -> list[list[dict[str, str]]]:
    rng = random.Random(seed)
    return [
        [{"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30)))}]
        for _ in range(count)
    ]


@pytest.fixture(scope="module")
def generator(tiny_model_dir) -> HFGenerator:
    return load_generator(str(tiny_model_dir), batch_size=8)


def with_end_of_turn_bias(generator: HFGenerator, bias: float) -> HFGenerator:
    """A copy of the tiny model whose output layer adds `bias` to the logit of every stop token."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(generator.model.name_or_path)
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=True)
    with torch.no_grad():
        head.weight.copy_(model.get_input_embeddings().weight)
        head.bias.zero_()
        head.bias[generator.stop_token_ids] = bias
    model.lm_head = head
    return HFGenerator(model, generator.tokenizer)


def test_n_samples_per_prompt_in_prompt_order(generator):
    prompts = make_prompts(5)
    result = generator.generate(prompts, SamplingParams(n=3, temperature=1.0, max_new_tokens=8, seed=0))
    assert [len(samples) for samples in result] == [3] * 5
    # Each prompt's samples are its own: a prompt sampled alone with greedy decoding matches its batched slot.
    greedy = SamplingParams(n=2, temperature=0, max_new_tokens=8)
    batched = generator.generate(prompts, greedy)
    for prompt, samples in zip(prompts, batched):
        assert samples == generator.generate([prompt], greedy)[0]
        assert samples[0] == samples[1]


def test_greedy_batched_equals_unbatched(generator):
    prompts = make_prompts(7, seed=1)  # 1 to 30 words: plenty of left padding in a batch
    params = SamplingParams(temperature=0, max_new_tokens=16)
    batched = generator.generate(prompts, params)
    alone = [generator.generate([prompt], params)[0] for prompt in prompts]
    assert batched == alone
    assert len({samples[0].text for samples in batched}) > 4  # the outputs really depend on the prompts


def test_max_new_tokens_respected(generator):
    result = generator.generate(make_prompts(4), SamplingParams(n=2, max_new_tokens=5, seed=0))
    for completion in (c for samples in result for c in samples):
        assert 1 <= completion.num_tokens <= 5
        if completion.finish_reason == "length":
            assert completion.num_tokens == 5


def test_seed_reproduces_and_leaves_global_rng_alone(generator):
    prompts = make_prompts(3)
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=7)
    torch.manual_seed(0)
    expected_next = torch.rand(2)
    torch.manual_seed(0)
    first = generator.generate(prompts, params)
    assert torch.equal(torch.rand(2), expected_next)
    assert generator.generate(prompts, params) == first
    other = generator.generate(prompts, SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=8))
    assert other != first
    assert len({c.text for c in first[0]}) > 1  # the n samples of a prompt differ


def test_checkpoint_sampling_defaults_do_not_leak(generator):
    """A checkpoint's generation_config (top_k=1, huge repetition penalty) must not change r3's sampling."""
    saved = generator.model.generation_config
    leaky = saved.__class__(**saved.to_dict())
    leaky.top_k, leaky.repetition_penalty, leaky.do_sample = 1, 100.0, False
    params = SamplingParams(n=6, temperature=1.0, top_k=0, max_new_tokens=6, seed=0)
    clean = generator.generate(make_prompts(2), params)
    generator.model.generation_config = leaky
    try:
        assert generator.generate(make_prompts(2), params) == clean
    finally:
        generator.model.generation_config = saved
    assert generator.model.generation_config is saved


def test_top_k_one_is_greedy(generator):
    prompts = make_prompts(2)
    top1 = generator.generate(prompts, SamplingParams(n=3, temperature=1.0, top_k=1, max_new_tokens=6, seed=0))
    greedy = generator.generate(prompts, SamplingParams(n=3, temperature=0, max_new_tokens=6))
    assert top1 == greedy


def test_stops_at_end_of_turn(generator):
    always_stop = with_end_of_turn_bias(generator, 100.0)
    result = always_stop.generate(make_prompts(3), SamplingParams(n=2, max_new_tokens=10, seed=0))
    for completion in (c for samples in result for c in samples):
        assert (completion.text, completion.num_tokens, completion.finish_reason) == ("", 1, "stop")


def test_never_stopping_runs_to_the_budget(generator):
    never_stop = with_end_of_turn_bias(generator, -100.0)
    result = never_stop.generate(make_prompts(3), SamplingParams(n=2, max_new_tokens=7, seed=0))
    for completion in (c for samples in result for c in samples):
        assert completion.finish_reason == "length" and completion.num_tokens == 7
        assert "<|im_end|>" not in completion.text


def test_mixed_stops_in_one_batch(generator):
    """Rows that stop early are padded by generate; their counts and texts must not include the padding."""
    sometimes = with_end_of_turn_bias(generator, 6.0)
    params = SamplingParams(n=8, temperature=1.0, max_new_tokens=12, seed=0)
    completions = [c for samples in sometimes.generate(make_prompts(4), params) for c in samples]
    stopped = [c for c in completions if c.finish_reason == "stop"]
    assert {c.finish_reason for c in completions} == {"stop", "length"}
    assert len({c.num_tokens for c in stopped}) > 1
    for completion in completions:
        assert "<|im_end|>" not in completion.text and "<|endoftext|>" not in completion.text
        if completion.finish_reason == "length":
            assert completion.num_tokens == 12
        if completion.num_tokens == 1:
            assert completion.text == ""
        # token_ids: the generated ids without the stop token (and never the padding after it)
        assert len(completion.token_ids) == completion.num_tokens - (completion.finish_reason == "stop")
        assert generator.tokenizer.decode(list(completion.token_ids), skip_special_tokens=True) == completion.text
        assert not set(completion.token_ids) & set(generator.stop_token_ids)


def test_generate_ids_is_generate_on_the_rendered_prompt(generator):
    prompts, params = make_prompts(3), SamplingParams(n=2, temperature=1.0, max_new_tokens=6, seed=3)
    assert generator.generate_ids(generator.encode(prompts), params) == generator.generate(prompts, params)
    assert generator.encode(prompts)[0] == generator.tokenizer(generator.render(prompts[0]),
                                                               add_special_tokens=False)["input_ids"]


def test_stop_ids_include_tokenizer_generation_config_and_im_end(generator):
    tokenizer = generator.tokenizer
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    end_of_text = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = generator.model.generation_config.__class__(eos_token_id=[end_of_text])
    assert set(stop_token_ids(tokenizer, config)) == {im_end, end_of_text}
    assert im_end in generator.stop_token_ids


def test_prompt_longer_than_context_is_a_clear_error(generator):
    long_prompt = [[{"role": "user", "content": "3 " * generator.context_length}]]
    with pytest.raises(R3Error, match="prompt 0 has .* tokens.*context of 4096"):
        generator.generate(long_prompt, SamplingParams(max_new_tokens=4))


def test_chat_template_is_applied(generator):
    text = generator.render([{"role": "user", "content": "hi"}])
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert generator.encode([[{"role": "user", "content": "hi"}]])[0] == generator.tokenizer(text)["input_ids"]


def test_loads_on_cpu_in_float32(generator):
    assert generator.model.device.type == "cpu" and generator.model.dtype == torch.float32


def test_unknown_model_is_one_line_error(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no slow network retries in tests
    with pytest.raises(R3Error, match="does not exist"):
        load_generator(str(tmp_path / "no" / "such" / "model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(R3Error, match="no config.json"):
        load_generator(str(tmp_path / "empty"))
    with pytest.raises(R3Error, match="cannot load model 'nobody-r3/not-a-model'") as error:
        load_generator("nobody-r3/not-a-model")
    assert "\n" not in str(error.value)


def test_relative_path_under_a_local_folder_is_not_sent_to_the_hub(tmp_path, monkeypatch):
    # "runs/typo" looks like a hub id (org/name), but ./runs is a local folder: the user meant a local path
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(R3Error, match="model directory 'runs/typo' does not exist"):
        load_generator("runs/typo")


def test_unknown_backend_and_bad_options(generator, tiny_model_dir):
    with pytest.raises(R3Error, match="unknown generation backend 'tgi'"):
        load_generator(str(tiny_model_dir), backend="tgi")
    with pytest.raises(R3Error, match="unknown dtype"):
        load_generator(str(tiny_model_dir), dtype="float13")
    with pytest.raises(R3Error, match="max_new_tokens"):
        generator.generate(make_prompts(1), SamplingParams(max_new_tokens=0))
