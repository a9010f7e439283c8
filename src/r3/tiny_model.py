"""A tiny Hugging Face chat model you can build offline, for tests and for trying r3 without a download.

    r3 tiny-model runs/tiny            # or: python -c "from r3.tiny_model import build_tiny_model; build_tiny_model('runs/tiny')"

The directory holds a byte-level BPE tokenizer (trained here on a small built-in corpus of Countdown problems,
function-calling JSON, short reflections and ChatML markup) with a ChatML chat template, and a randomly initialised
`Qwen2ForCausalLM` of about 0.28 million parameters (vocabulary ~900). Its output is gibberish - it has never
been trained - but every code path (chat templating, batching, sampling, stopping at end of turn, GRPO steps) runs as
it would on a real model, in milliseconds on a CPU.

One pitfall shapes this file: for `model_type: qwen2`, transformers 5 ignores the saved `tokenizer_class` and makes
`AutoTokenizer` build a `Qwen2Tokenizer` from the vocabulary and merges with Qwen2's own normalizer and
pre-tokenizer. A tokenizer trained with any other pre-tokenizer would then silently tokenize differently from the one
that was trained. So the tokenizer here is trained with exactly Qwen2's pipeline (NFC, Qwen2's split regex,
byte-level), and `tokenizer_class: PreTrainedTokenizerFast` is recorded for transformers 4, which honours it. Tests
check that `AutoTokenizer` reproduces `tokenizer.json` token for token.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

from r3.chatml import CHAT_TEMPLATE, END_OF_TEXT, IM_END, SPECIAL_TOKENS, render

# Qwen2's pre-tokenizer regex (transformers' tokenization_qwen2.py): digits one by one, words with a leading space.
QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

_CORPUS_SEED = 1234  # the tokenizer depends only on this corpus, not on the model seed
_REFLECTIONS = [
    "I used a number twice. Next time I will check that each number is used exactly once.",
    "My equation did not equal the target. I should compute the result before writing the answer.",
    "I forgot the answer tags. The final equation must be inside <answer> </answer>.",
    "I called the wrong tool. I should read the tool descriptions and match the query.",
    "I passed a string where an integer was expected. I should follow the parameter types.",
    "I missed one of the requested calls. The query asked for two things, so I need two calls.",
    "The order of operations was wrong. Parentheses would have fixed it.",
]
_PROSE = (
    "A model attempts a task whose answer a verifier can check. When the attempt fails, it is asked to reflect on "
    "what went wrong, and then it tries again with the reflection in context. Only the reflection is rewarded when "
    "the second attempt succeeds. Good reflections are short, specific and correct: they name the mistake, explain "
    "why it happened and describe a plan for the next try. Please answer the question below. Think step by step, "
    "check every intermediate result, and write the final answer clearly. The weather today is sunny with a light "
    "wind from the west; tomorrow there may be rain in the morning and clouds in the afternoon. Convert one hundred "
    "dollars into euros, find the nearest restaurants that serve vegetarian food, and look up the latest price of "
    "the company's shares. What is the area of a circle with radius five? How many books did the author publish "
    "between these years? Sort the list, remove duplicates and return the largest value. Thank you for your help, "
    "that was exactly what I needed. Let me double-check the calculation: multiply first, then add, then subtract."
)
_TOOLS = ["get_weather", "search_books", "convert_currency", "calculate_area", "find_restaurants", "get_stock_price"]


def _countdown_lines(rng: random.Random) -> Iterator[str]:
    nums = [rng.randint(1, 99) for _ in range(rng.choice((3, 4)))]
    target = rng.randint(10, 100)
    yield (
        f"Using the numbers {nums}, create an equation that equals {target}. You can use basic arithmetic "
        "operations (+, -, *, /) and each number can only be used once. Show your work in <think> </think> tags "
        "and return the final equation in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>."
    )
    a, b, c = nums[:3]
    yield f"<think> {a} + {b} = {a + b}, {a + b} - {c} = {a + b - c} </think> <answer> ({a} + {b}) - {c} </answer>"
    yield f"<answer> {a} * {b} / {c} = {target} </answer>"


def _function_calling_lines(rng: random.Random) -> Iterator[str]:
    name = rng.choice(_TOOLS)
    tool = {
        "name": name,
        "description": f"Return the result of {name.replace('_', ' ')}.",
        "parameters": {
            "query": {"description": "What to look up.", "type": "str", "default": ""},
            "limit": {"description": "How many results.", "type": "int, optional", "default": 5},
        },
    }
    yield f"You have access to the following tools: {json.dumps([tool])}"
    yield f"Find {rng.randint(2, 9)} results about city number {rng.randint(1, 500)} for me."
    arguments = {"query": f"city {rng.randint(1, 500)}", "limit": rng.randint(1, 9)}
    yield json.dumps([{"name": name, "arguments": arguments}])


def tiny_corpus(num_problems: int = 300) -> list[str]:
    """The training text of the tokenizer: task text wrapped in ChatML, as the model will see it."""
    rng = random.Random(_CORPUS_SEED)
    lines: list[str] = []
    for _ in range(num_problems):
        task_lines = list(_countdown_lines(rng)) + list(_function_calling_lines(rng))
        reflection = rng.choice(_REFLECTIONS)
        lines.append(render([{"role": "user", "content": task_lines[0]},
                             {"role": "assistant", "content": task_lines[1]},
                             {"role": "user", "content": "Reflect on what went wrong."},
                             {"role": "assistant", "content": reflection}]))
        lines.extend(task_lines[2:])
    lines.extend(sentence.strip() + "." for sentence in _PROSE.split("."))
    return lines


def build_tokenizer(vocab_size: int = 2048, max_length: int = 4096):
    """A byte-level BPE `PreTrainedTokenizerFast` with ChatML special tokens and template, padding on the left."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # The same normalizer, pre-tokenizer and decoder as Qwen2Tokenizer, so that whichever class loads the directory
    # splits text the same way (see the module docstring).
    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(tiny_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=IM_END,
        pad_token=END_OF_TEXT,
        padding_side="left",
        model_max_length=max_length,
        chat_template=CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
    )


# what `_save_model` writes (transformers 5); claimed before building, so a foreign model in OUT is refused at once
MODEL_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
               "tokenizer_config.json", "chat_template.jinja")


def build_tiny_model(
    out_dir: str | Path,
    *,
    seed: int = 42,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 512,
    vocab_size: int = 2048,
    max_length: int = 4096,
    overwrite: bool = False,
) -> Path:
    """Write a randomly initialised tiny Qwen2 chat model and its tokenizer to `out_dir` and return the path.

    Deterministic: the same arguments give the same tokenizer and the same weights. The global torch random state
    is left as it was. `out_dir` is a run directory (`r3.rundir`, kind "tiny-model"): rebuilding with the same
    arguments replaces the files it wrote; other arguments are refused unless `overwrite`; a file that r3 did not
    write there (a trained model, say) is never replaced, with or without `overwrite`.
    """
    import tempfile

    from r3.rundir import RunDir

    identity = {"seed": seed, "hidden_size": hidden_size, "num_layers": num_layers, "num_heads": num_heads,
                "num_kv_heads": num_kv_heads, "intermediate_size": intermediate_size, "vocab_size": vocab_size,
                "max_length": max_length}
    # claims: a foreign model there is refused before anything is built or written
    with RunDir.open(out_dir, "tiny-model", identity, overwrite=overwrite, claims=MODEL_FILES) as run, \
            tempfile.TemporaryDirectory(prefix="r3-tiny-model-") as staging:
        _save_model(Path(staging), identity)
        files = sorted(p for p in Path(staging).iterdir() if p.is_file())
        run.claim(*(p.name for p in files))  # every name first: a foreign file refuses the run before any write
        for file in files:
            run.write_atomic(file.name, file.read_bytes())
        return run.path


def _save_model(out: Path, shape: dict) -> None:
    """Build the tokenizer and the model of `shape` (build_tiny_model's arguments) and save both into `out`."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    seed, hidden_size, num_layers = shape["seed"], shape["hidden_size"], shape["num_layers"]
    num_heads, num_kv_heads, intermediate_size = shape["num_heads"], shape["num_kv_heads"], shape["intermediate_size"]
    vocab_size, max_length = shape["vocab_size"], shape["max_length"]
    tokenizer = build_tokenizer(vocab_size, max_length)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_length,
        # Wider than the usual 0.02, so that a random model's greedy output depends on its prompt (with 0.02 every
        # prompt yields the same token over and over, and batching bugs would go unseen).
        initializer_range=0.3,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids(END_OF_TEXT),
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    _pin_tokenizer_class(out)


def _pin_tokenizer_class(out: Path) -> None:
    """Record the generic fast class (honoured by transformers 4) and the template inline (see the module doc)."""
    path = out / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config["chat_template"] = CHAT_TEMPLATE
    path.write_text(json.dumps(config, indent=2) + "\n")
