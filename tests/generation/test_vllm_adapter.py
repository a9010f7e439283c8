"""VLLMGenerator against a stand-in `vllm` module that records calls (vLLM needs a CUDA GPU, which CI lacks)."""

from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from dataclasses import dataclass, field

import pytest

from r3.errors import R3Error
from r3.generation import load_generator
from r3.generation.vllm import VLLMGenerator
from r3.types import Completion, SamplingParams


@dataclass
class FakeSamplingParams:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 16
    seed: int | None = None
    stop_token_ids: list[int] | None = None


@dataclass
class FakeCompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str


@dataclass
class FakeRequestOutput:
    outputs: list[FakeCompletionOutput]


@dataclass
class FakeLLM:
    """Records its construction and each generate call; answers sample k of prompt i with text 'p{i}s{k}' and ids
    100..100+k, plus the end-of-turn id for samples that stopped."""

    kwargs: dict
    tokenizer: object
    calls: list = field(default_factory=list)

    def get_tokenizer(self):
        return self.tokenizer

    def generate(self, prompts, sampling_params=None, use_tqdm=True):
        self.calls.append({"prompts": prompts, "sampling_params": sampling_params, "use_tqdm": use_tqdm})
        if any(len(p["prompt_token_ids"]) > 200 for p in prompts):
            raise ValueError("The decoder prompt (length 9000) is longer than the maximum model length of 4096.")
        end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        outputs = []
        for i, params in enumerate(sampling_params):
            samples = [
                FakeCompletionOutput(k, f"p{i}s{k}", list(range(100, 101 + k)) + ([] if k == 0 else [end]),
                                     "length" if k == 0 else "stop")
                for k in range(params.n)
            ]
            outputs.append(FakeRequestOutput(samples))
        return outputs


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    from r3.tiny_model import build_tiny_model

    return AutoTokenizer.from_pretrained(build_tiny_model(tmp_path_factory.mktemp("tiny"), seed=0))


@pytest.fixture
def fake_vllm(monkeypatch, tokenizer):
    module = types.ModuleType("vllm")
    module.__spec__ = importlib.machinery.ModuleSpec("vllm", None)  # lets importlib.util.find_spec see it
    built = []

    def make_llm(**kwargs):
        if kwargs["model"] == "nobody/missing":
            raise OSError("nobody/missing is not a local folder and is not a valid model identifier\nmore detail")
        built.append(FakeLLM(kwargs, tokenizer))
        return built[-1]

    module.LLM = make_llm
    module.SamplingParams = FakeSamplingParams
    module.built = built
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


@pytest.fixture
def model_dir(tmp_path):
    """vLLM loads the weights itself: the adapter only needs a directory that looks like a model."""
    path = tmp_path / "model"
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    (path / "tokenizer.json").write_text("{}")  # r3 checks that a model folder has tokenizer files before loading
    return path


PROMPTS = [
    [{"role": "user", "content": "first"}],
    [{"role": "system", "content": "s"}, {"role": "user", "content": "x"}],
]


def test_builds_one_llm_with_prefix_caching(fake_vllm, model_dir):
    generator = load_generator(
        str(model_dir), backend="vllm", seed=3, gpu_memory_utilization=0.5, max_model_len=2048, enforce_eager=True
    )
    assert isinstance(generator, VLLMGenerator)
    (llm,) = fake_vllm.built
    assert llm.kwargs == {
        "model": str(model_dir),
        "dtype": "auto",
        "trust_remote_code": False,
        "seed": 3,
        "gpu_memory_utilization": 0.5,
        "max_model_len": 2048,
        "tensor_parallel_size": 1,
        "enable_prefix_caching": True,
        "enforce_eager": True,
    }
    assert generator.tokenizer is fake_vllm.built[0].tokenizer


def test_generate_maps_samples_in_prompt_order(fake_vllm, model_dir, tokenizer):
    generator = load_generator(str(model_dir), backend="vllm", chat_template_kwargs={"enable_thinking": False})
    params = SamplingParams(n=3, temperature=0.7, top_p=0.9, top_k=0, max_new_tokens=64, seed=10)
    result = generator.generate(PROMPTS, params)
    # token_ids come without the end-of-turn id; num_tokens counts it
    assert result == [
        [Completion("p0s0", 1, "length", (100,)), Completion("p0s1", 3, "stop", (100, 101)),
         Completion("p0s2", 4, "stop", (100, 101, 102))],
        [Completion("p1s0", 1, "length", (100,)), Completion("p1s1", 3, "stop", (100, 101)),
         Completion("p1s2", 4, "stop", (100, 101, 102))],
    ]
    (call,) = fake_vllm.built[0].calls
    # prompts go as token ids rendered by r3's template, with the options
    expected = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True, enable_thinking=False)
                for p in PROMPTS]
    assert [tokenizer.decode(p["prompt_token_ids"]) for p in call["prompts"]] == expected
    assert call["use_tqdm"] is False
    stops = generator.template.stop_ids
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in stops
    assert call["sampling_params"] == [
        FakeSamplingParams(n=3, temperature=0.7, top_p=0.9, top_k=0, max_tokens=64, seed=10, stop_token_ids=stops),
        FakeSamplingParams(n=3, temperature=0.7, top_p=0.9, top_k=0, max_tokens=64, seed=13, stop_token_ids=stops),
    ]


def test_generate_ids_passes_ids_unchanged(fake_vllm, model_dir):
    generator = load_generator(str(model_dir), backend="vllm")
    generator.generate_ids([[5, 6, 7], [8]], SamplingParams(n=1, max_new_tokens=4))
    assert fake_vllm.built[0].calls[0]["prompts"] == [{"prompt_token_ids": [5, 6, 7]}, {"prompt_token_ids": [8]}]


def test_per_prompt_seeds_are_sent_as_given(fake_vllm, model_dir):
    generator = load_generator(str(model_dir), backend="vllm")
    generator.generate_ids([[5], [6], [7]], SamplingParams(n=2, max_new_tokens=4, seed=1), seeds=[90, 7, 2**62])
    assert [p.seed for p in fake_vllm.built[0].calls[0]["sampling_params"]] == [90, 7, 2**62]
    with pytest.raises(ValueError, match="2 seeds for 3 prompts"):
        generator.generate_ids([[5], [6], [7]], SamplingParams(), seeds=[1, 2])


def test_unseeded_and_greedy(fake_vllm, model_dir):
    generator = load_generator(str(model_dir), backend="vllm")
    generator.generate(PROMPTS, SamplingParams(n=1, temperature=0, max_new_tokens=5))
    sent = fake_vllm.built[0].calls[0]["sampling_params"]
    assert [(p.temperature, p.seed, p.max_tokens) for p in sent] == [(0, None, 5), (0, None, 5)]
    assert generator.generate([], SamplingParams()) == []


def test_errors_are_one_line(fake_vllm, model_dir, tmp_path):
    with pytest.raises(R3Error, match="cannot load model 'nobody/missing'") as error:
        load_generator("nobody/missing", backend="vllm")
    assert "\n" not in str(error.value)
    with pytest.raises(R3Error, match="does not exist"):
        load_generator(str(tmp_path / "a" / "b"), backend="vllm")
    generator = load_generator(str(model_dir), backend="vllm")
    with pytest.raises(R3Error, match="does not fit the model's context"):
        generator.generate([[{"role": "user", "content": "too long " * 300}]], SamplingParams())


def test_missing_vllm_says_how_to_install(monkeypatch, model_dir):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import fails, find_spec says "not installed"
    with pytest.raises(R3Error, match=r"pip install 'r3-reflect\[vllm\]'"):
        load_generator(str(model_dir), backend="vllm")
