"""Contract test for the private TRL methods and trainer attributes r3 relies on (r3.training.trl_adapter).

If this file fails after a TRL upgrade, r3's retries and online attempts would no longer sample the way TRL samples
its completions: fix r3/training/trl_adapter.py before anything else.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import trl
from train_fakes import write_config, write_failures
from trl import GRPOTrainer
from trl.generation.vllm_generation import VLLMGeneration

from r3.errors import R3Error
from r3.training import trl_adapter
from r3.training.config import load_train_config
from r3.training.trainer import build_trainer


def test_trl_is_the_supported_series_with_the_expected_private_signatures() -> None:
    assert trl.__version__.startswith(trl_adapter.SUPPORTED_TRL_SERIES + ".")
    for name, expected in trl_adapter.EXPECTED_SIGNATURES.items():
        assert tuple(inspect.signature(getattr(GRPOTrainer, name)).parameters)[1:] == expected, name
    trl_adapter.check_trl()
    # the sampling settings the adapter overrides are the ones the generation paths read
    assert "generation_config=self.generation_config" in inspect.getsource(GRPOTrainer._generate_single_turn)
    source = inspect.getsource(VLLMGeneration.generate)
    assert "temperature = self.temperature" in source and "max_completion_length = self.max_completion_length" in source
    assert "ordered_set_of_prompt_ids = all_prompts[::num_generations]" in source  # the layout generate() documents


def test_check_trl_fails_loudly_on_a_changed_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    def changed(self, prompt_ids, num_generations):  # what a future TRL might look like
        raise AssertionError

    monkeypatch.setattr(GRPOTrainer, "_generate_single_turn", changed)
    with pytest.raises(R3Error, match="_generate_single_turn"):
        trl_adapter.check_trl()


def test_trl_sets_and_reads_every_trainer_attribute_the_adapter_uses() -> None:
    """Each attribute in TRAINER_ATTRIBUTES is set by GRPOTrainer.__init__ and read where r3 expects it to be read:
    an attribute TRL kept setting but stopped reading would make r3's per-call overrides silently do nothing."""
    init = inspect.getsource(GRPOTrainer.__init__)
    for name in trl_adapter.TRAINER_ATTRIBUTES:
        assert f"self.{name} = " in init, name
    generate = inspect.getsource(GRPOTrainer._generate_single_turn)
    for read in ("self.use_vllm", "self.vllm_generation.generate(", "generation_config=self.generation_config",
                 "generation_kwargs=self.generation_kwargs", "self.eos_token_ids"):
        assert read in generate, read
    vllm_init = inspect.getsource(VLLMGeneration.__init__)
    for name in trl_adapter.VLLM_ATTRIBUTES:
        assert f"self.{name} = {name}" in vllm_init, name
    assert "self.num_generations_eval = args.num_generations_eval or self.num_generations" in init


def test_check_trainer_names_a_missing_vllm_attribute() -> None:
    fake = type("FakeTrainer", (), {})()
    fake.use_vllm, fake.eos_token_ids, fake.num_generations, fake.num_generations_eval = True, [1], 4, 4
    fake.vllm_generation = VLLMGeneration.__new__(VLLMGeneration)  # no __init__: no sampling attributes yet
    fake.vllm_generation.temperature = 1.0
    with pytest.raises(R3Error, match="vllm_generation.max_completion_length"):
        trl_adapter.check_trainer(fake)
    fake.vllm_generation.max_completion_length = 16
    trl_adapter.check_trainer(fake)  # generation_config / generation_kwargs are not needed on the vLLM path


@pytest.fixture(scope="module")
def trainer(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("adapter")
    data = write_failures(base / "failures.jsonl", count=2)
    config, training = load_train_config(write_config(base / "c.yaml", tiny_model_dir, data, base / "out",
                                                      reflection_max_new_tokens=16))
    return build_trainer(config, training)


def test_check_trainer_accepts_a_built_trainer(trainer) -> None:
    assert trainer.use_vllm is False
    trl_adapter.check_trainer(trainer)


@pytest.mark.parametrize("name", [n for n, a in trl_adapter.TRAINER_ATTRIBUTES.items() if a.path != "vllm"])
def test_check_trainer_fails_loudly_on_a_missing_or_retyped_attribute(trainer, name: str, monkeypatch) -> None:
    monkeypatch.delattr(trainer, name)
    with pytest.raises(R3Error, match=name):
        trl_adapter.check_trainer(trainer)
    monkeypatch.setattr(trainer, name, object(), raising=False)
    with pytest.raises(R3Error, match=f"{name} to be a"):
        trl_adapter.check_trainer(trainer)


def test_tokenize_matches_the_chat_template(trainer) -> None:
    conversation = [{"role": "user", "content": "Say the word apple."}, {"role": "assistant", "content": "pear"},
                    {"role": "user", "content": "Reflect."}]
    expected = trainer.processing_class.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True,
                                                            return_dict=True)["input_ids"]
    assert trl_adapter.tokenize(trainer, [conversation]) == [list(expected)]


def test_generate_samples_from_the_policy_with_per_call_settings(trainer) -> None:
    prompt = trl_adapter.tokenize(trainer, [[{"role": "user", "content": "Say the word apple."}]])[0]
    config_before, kwargs_before = trainer.generation_config, trainer.generation_kwargs
    ids, logprobs = trl_adapter.generate(trainer, [prompt, prompt], num_generations=1, max_new_tokens=3)
    assert len(ids) == 2 and all(1 <= len(seq) <= 3 for seq in ids) and logprobs is None
    eos = set(trainer.eos_token_ids)
    assert all(token not in eos for seq in ids for token in seq[:-1])  # cut after the first end of turn
    greedy = [trl_adapter.generate(trainer, [prompt], num_generations=1, max_new_tokens=6, temperature=0)[0]
              for _ in range(2)]
    assert greedy[0] == greedy[1]
    assert trainer.generation_config is config_before and trainer.generation_kwargs is kwargs_before
    assert trainer.generation_config.max_new_tokens == 16  # the reflections' own budget is untouched
    texts = trl_adapter.decode(trainer, ids)
    assert all(isinstance(t, str) for t in texts)
    with pytest.raises(ValueError):
        trl_adapter.generate(trainer, [], num_generations=1)
