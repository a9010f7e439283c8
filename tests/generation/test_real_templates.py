"""What the model sees, on the four real chat templates (Qwen2.5, Qwen3, Llama 3.2, Phi-3.5) with tiny random models.

Each model is its real tokenizer and chat template with random weights (tests/generation/real_models.py), built
once per module. The claims: reflection and retry prompts hold the whole attempt and reflection (a Qwen3 think block
included); eval, mining and training give the model the same ids; the retry holds the sampled reflection ids
unchanged; generation stops at each model's end of turn; template options, the Llama date and system prompts on
templates without a system role behave as documented.
"""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
from real_models import MODELS, build_real_tiny, real_dir

from r3.conversation import reflection_messages, reflection_prompt_ids, retry_prompt_ids
from r3.episodes import EpisodeConfig, run_episodes
from r3.generation.hf import HFGenerator
from r3.generation.templates import DEFAULT_DATE_STRING, ChatTemplate, show_prompts, template_fingerprint
from r3.mining.schedule import QueryState
from r3.tasks.base import Task
from r3.training.online import OfflineRollout
from r3.training.reward import RetryReward
from r3.types import Message, SamplingParams, Verdict

PROMPT = [{"role": "system", "content": "You are careful."},
          {"role": "user", "content": "Make 24 from 3 5 8. Think in <think> </think> tags, then answer."}]
ATTEMPT = "<think>\nI add: 3 + 5 = 8, then 8 + 8.\n</think>\n\n<answer>3 + 5 + 8</answer>"
REFLECTION = "<think>\nAddition gives 16, not 24.\n</think>\n\nMultiply 3 by 8 instead."
REFLECT, RETRY = "That is wrong ({reason}). Reflect on what went wrong.", "Now try again."
END_OF_TURN = {"qwen2.5-0.5b-instruct": "<|im_end|>", "qwen3-0.6b": "<|im_end|>",
               "llama-3.2-1b-instruct": "<|eot_id|>", "phi-3.5-mini-instruct": "<|end|>"}


@pytest.fixture(scope="module")
def generators(tmp_path_factory) -> dict[str, HFGenerator]:
    built = {}
    for name in MODELS:
        real_dir(name)  # skips when ../shared/real is absent
        built[name] = HFGenerator.from_pretrained(build_real_tiny(name, tmp_path_factory.mktemp(name)), device="cpu")
    return built


class AlwaysWrong(Task):
    """Every answer is wrong, so every episode reflects and retries."""

    name = "always_wrong"
    fields = ("question",)

    def normalize(self, row):
        return dict(row)

    def prompt(self, example) -> list[Message]:
        return [dict(m) for m in PROMPT]

    def check(self, example, completion: str) -> Verdict:
        return Verdict(False, "never right")


class Recorder:
    """Wraps a generator and keeps every token-id prompt it is given and what it answered."""

    def __init__(self, generator: HFGenerator):
        self.inner, self.template, self.prompts, self.outputs = generator, generator.template, [], []

    def generate(self, prompts, params):
        return self.inner.generate(prompts, params)

    def generate_ids(self, prompt_ids, params):
        self.prompts.append([list(ids) for ids in prompt_ids])
        self.outputs.append(self.inner.generate_ids(prompt_ids, params))
        return self.outputs[-1]


def trainer_stub(generator: HFGenerator, chat_template_kwargs=None) -> SimpleNamespace:
    """What r3's training code reads from a GRPOTrainer to render prompts."""
    return SimpleNamespace(processing_class=generator.tokenizer, chat_template_kwargs=chat_template_kwargs or {},
                           eos_token_ids=list(generator.stop_token_ids))


@pytest.mark.parametrize("name", MODELS)
def test_prompts_show_the_whole_attempt_and_reflection(generators, name: str) -> None:
    template = generators[name].template
    attempt, reflection = template.encode_text(ATTEMPT), template.encode_text(REFLECTION)
    shown = template.decode(reflection_prompt_ids(template, PROMPT, [attempt], [], ["16"], REFLECT, RETRY))
    assert ATTEMPT in shown and "That is wrong (16)" in shown
    ids = retry_prompt_ids(template, PROMPT, [attempt], [reflection], ["16"], REFLECT, RETRY)
    shown = template.decode(ids)
    assert ATTEMPT in shown and REFLECTION in shown and shown.index(REFLECTION) < shown.rindex(RETRY)
    # ...and it ends with the same generation prompt as the first attempt's
    assert ids[-2:] == template.encode(PROMPT)[-2:]
    stripped = template.decode(retry_prompt_ids(template, PROMPT, [attempt], [reflection], ["16"], REFLECT, RETRY,
                                                strip_reasoning=True))
    assert "I add" not in stripped and "<answer>3 + 5 + 8</answer>" in stripped
    assert "Addition gives" not in stripped and "Multiply 3 by 8 instead." in stripped


def test_qwen3_template_alone_would_drop_the_think_block(generators) -> None:
    """Why r3 renders earlier turns from their ids: Qwen3's template drops the reasoning of earlier turns."""
    template = generators["qwen3-0.6b"].template
    by_template = template.render(reflection_messages(PROMPT, [ATTEMPT], [], ["16"], REFLECT, RETRY))
    assert "I add" not in by_template and "<answer>3 + 5 + 8</answer>" in by_template


@pytest.mark.parametrize("name", MODELS)
def test_eval_mine_and_train_give_the_same_ids(generators, name: str) -> None:
    generator = generators[name]
    recorder = Recorder(generator)
    params = SamplingParams(max_new_tokens=12, seed=1)
    config = EpisodeConfig(max_attempts=2, attempt_params=params, reflection_params=params,
                           reflection_instruction=REFLECT, retry_instruction=RETRY, batch_size=2)
    (episodes,) = run_episodes(AlwaysWrong(), recorder, [{"question": "a"}, {"question": "b"}], config)
    first, reflect_prompts, retry_prompts = recorder.prompts
    episode = episodes[0]
    assert first[0] == generator.encode([PROMPT])[0]  # mining renders first attempts through generator.encode

    # mining keeps the attempt's ids; offline training rebuilds the reflection prompt from them
    state = QueryState(index=0, problem_id="0", example={}, prompt=PROMPT)
    attempt = recorder.outputs[0][0][0]
    assert attempt.text == episode.attempts[0].text
    state.record(attempt, False, "never right", keep=1)
    failed = json.loads(json.dumps(state.failed[0]))  # through failures.jsonl
    row = {"prompt": reflection_messages(PROMPT, [failed["text"]], [], [failed["reason"]], REFLECT, RETRY),
           "r3_task_prompt": PROMPT, "r3_attempt": failed["text"], "r3_reason": failed["reason"],
           "r3_attempt_ids": failed["token_ids"]}
    rollout = OfflineRollout(REFLECT, RETRY, [row])
    assert rollout.prompt_ids(trainer_stub(generator), row["prompt"]) == reflect_prompts[0]

    # the reward builds the retry around the reflection ids exactly as eval did
    reward = RetryReward(AlwaysWrong(), REFLECT, RETRY, max_new_tokens=8, temperature=None)
    reward.bind(trainer_stub(generator))
    reflection = episode.reflections[0]
    end = [generator.tokenizer.convert_tokens_to_ids(END_OF_TURN[name])]  # TRL's completions keep their eos
    retry = reward.retry_prompt(PROMPT, reflect_prompts[0], failed["text"], [*reflection.token_ids, *end],
                                "never right")
    assert retry == retry_prompts[0]


@pytest.mark.parametrize("name", MODELS)
def test_the_retry_holds_the_sampled_reflection_ids_unchanged(generators, name: str) -> None:
    generator = generators[name]
    template = generator.template
    attempt = template.encode_text(ATTEMPT)
    prompt_ids = reflection_prompt_ids(template, PROMPT, [attempt], [], ["16"], REFLECT, RETRY)
    reflections = generator.generate_ids([prompt_ids], SamplingParams(n=8, max_new_tokens=16, seed=0))[0]
    reward = RetryReward(AlwaysWrong(), REFLECT, RETRY, max_new_tokens=8, temperature=None)
    reward.bind(trainer_stub(generator))
    mismatches = 0
    for reflection in reflections:
        retry = reward.retry_prompt(PROMPT, prompt_ids, ATTEMPT, list(reflection.token_ids), "16")
        mismatches += retry[len(prompt_ids): len(prompt_ids) + len(reflection.token_ids)] != list(reflection.token_ids)
        assert retry[: len(prompt_ids)] == prompt_ids
    assert mismatches == 0


@pytest.mark.parametrize("name", MODELS)
def test_generation_stops_at_the_models_end_of_turn(generators, name: str) -> None:
    """A copy of the model whose first choice is its end-of-turn token: one token, finish "stop", empty turn."""
    import copy

    import torch

    generator = generators[name]
    model = copy.deepcopy(generator.model)
    end = generator.tokenizer.convert_tokens_to_ids(END_OF_TURN[name])
    prompt = generator.encode([PROMPT])[0]
    with torch.no_grad():
        hidden = model(torch.tensor([prompt]), output_hidden_states=True).hidden_states[-1][0, -1]
        weight = model.get_output_embeddings().weight.detach().clone()
        weight[end] = hidden / hidden.norm() ** 2 * 1e4  # logit 1e4 for the end of turn after this prompt
        head = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        head.weight = torch.nn.Parameter(weight)
    model.config.tie_word_embeddings = False
    model.set_output_embeddings(head)
    stopping = HFGenerator(model, generator.tokenizer)
    assert end in stopping.stop_token_ids
    (completion,) = stopping.generate_ids([prompt], SamplingParams(temperature=0, max_new_tokens=5))[0]
    assert (completion.num_tokens, completion.finish_reason, completion.token_ids) == (1, "stop", ())


def test_template_options_reach_every_prompt(generators) -> None:
    tokenizer = generators["qwen3-0.6b"].tokenizer
    template = ChatTemplate(tokenizer, {"enable_thinking": False})
    empty_think = "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    assert template.render(PROMPT).endswith(empty_think)
    ids = retry_prompt_ids(template, PROMPT, [template.encode_text("4")], [template.encode_text("hm")], ["x"],
                           REFLECT, RETRY)
    assert template.decode(ids).count("<think>\n\n</think>") == 3  # attempt, reflection and retry prompts
    assert ChatTemplate(tokenizer).render(PROMPT).endswith("<|im_start|>assistant\n")


def test_llama_date_is_pinned_and_recorded(generators) -> None:
    tokenizer = generators["llama-3.2-1b-instruct"].tokenizer
    assert f"Today Date: {DEFAULT_DATE_STRING}\n" in ChatTemplate(tokenizer).render(PROMPT)
    assert "Today Date: 01 Jan 2030" in ChatTemplate(tokenizer, {"date_string": "01 Jan 2030"}).render(PROMPT)
    pinned = template_fingerprint(tokenizer, None, PROMPT)
    assert pinned == template_fingerprint(tokenizer, {}, PROMPT)
    assert pinned["chat_template_kwargs"] == {"date_string": DEFAULT_DATE_STRING}
    other = template_fingerprint(tokenizer, {"date_string": "01 Jan 2030"}, PROMPT)
    assert other["template_sha256"] == pinned["template_sha256"]
    assert other["first_prompt_sha256"] != pinned["first_prompt_sha256"]
    assert "date_string" not in template_fingerprint(generators["qwen3-0.6b"].tokenizer, None, PROMPT)[
        "chat_template_kwargs"]


def test_system_prompt_on_a_template_without_system_role(generators, caplog) -> None:
    tokenizer = generators["qwen2.5-0.5b-instruct"].tokenizer
    gemma_like = (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
        "{% endif %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n{{ m['content'] }}"
        "<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
    original = tokenizer.chat_template
    tokenizer.chat_template = gemma_like
    try:
        template = ChatTemplate(tokenizer)
        with caplog.at_level(logging.INFO, logger="r3.generation.templates"):
            text = template.render(PROMPT)
            template.render(PROMPT)
        retry = template.decode(retry_prompt_ids(template, PROMPT, [[]], [[]], ["x"], REFLECT, RETRY))
    finally:
        tokenizer.chat_template = original
    assert not template.supports_system
    assert text.startswith("<start_of_turn>user\nYou are careful.\n\nMake 24")
    assert sum("no system role" in r.message for r in caplog.records) == 1
    assert retry.count("You are careful.") == 1 and retry.endswith("<start_of_turn>model\n")


def test_show_prompts_prints_what_the_model_reads(generators) -> None:
    tokenizer = generators["qwen3-0.6b"].tokenizer
    shown = show_prompts(tokenizer, PROMPT, reflection_instruction=REFLECT, retry_instruction=RETRY,
                         attempt=ATTEMPT, reflection=REFLECTION, reason="16")
    assert list(shown) == ["attempt", "reflection", "retry"]
    assert shown["retry"]["text"].startswith(shown["reflection"]["text"].rsplit("<|im_start|>assistant", 1)[0])
    assert ATTEMPT in shown["reflection"]["text"] and REFLECTION in shown["retry"]["text"]
    assert shown["attempt"]["ids"] == ChatTemplate(tokenizer).encode(PROMPT)


def test_show_task_prompts_loads_only_the_tokenizer(generators) -> None:
    from r3.generation.templates import show_task_prompts
    from r3.tasks import get_task

    task = get_task("countdown")
    example = task.load("sample:countdown", None, 1)[0]
    model = generators["llama-3.2-1b-instruct"].tokenizer.name_or_path
    shown = show_task_prompts(model, task, example, attempt="<answer>1 + 2</answer>", reflection="Use all numbers.")
    assert "<answer>1 + 2</answer>" in shown["reflection"]["text"]
    assert shown["reflection"]["text"].endswith(
        task.reflection_instruction + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    shown = show_task_prompts(model, task, example, reflection_instruction="Wrong: {reason}")
    assert task.verify(example, "(the first attempt)").reason in shown["reflection"]["text"]
    assert shown["retry"]["text"].count(f"Today Date: {DEFAULT_DATE_STRING}") == 1
