"""The demo model's tokenizer and architecture: a word-level ChatML tokenizer and a ~1M-parameter Llama.

Why these choices:
- **Word-level tokenizer** over the corpus' few dozen words, digits one by one, so a small model spends its capacity on
  arithmetic rather than on spelling. A word-level model needs an *isolating* pre-tokenizer (every word, digit or
  symbol, with its leading space, becomes one piece) and a *fusing* decoder (pieces are concatenated back), so that
  decoding and re-encoding model output round-trips exactly: the failed attempt is decoded, then re-encoded into the
  reflection prompt.
- **ChatML template**, with the role names (`user`, `assistant`, `system`) and the newline in the vocabulary, or they
  would become the unknown token.
- **Llama architecture**: for `model_type: qwen2`, transformers 5 ignores the saved tokenizer class and rebuilds a
  byte-level `Qwen2Tokenizer`, which would silently re-tokenize every prompt. For `llama` it honours the saved
  `PreTrainedTokenizerFast` class and `tokenizer.json`. The test suite checks `AutoTokenizer` round-trips.
- `<answer>` and `</answer>` are ordinary added tokens, not special ones, so decoding with `skip_special_tokens`
  keeps them (the verifier needs them).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from r3.chatml import CHAT_TEMPLATE, END_OF_TEXT, IM_END, IM_START

MODEL_DIR = Path(__file__).resolve().with_name("model_files")
"""The committed demo model (built by scripts/build_demo_model.py), shipped inside the package as package data so
that `r3 demo` runs from a wheel as well as from a clone."""

UNKNOWN = "<unk>"
ANSWER_TAGS = ("<answer>", "</answer>")
ROLES = ("system", "user", "assistant")
# One piece per word, digit or symbol run, each with its optional leading space; lone spaces and newlines too.
PIECE_REGEX = r" ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\n| "

ARCHITECTURE = {
    "hidden_size": 128,
    "intermediate_size": 384,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 256,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
}


def _pre_tokenizer():
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Split(Regex(PIECE_REGEX), behavior="isolated")


def vocabulary(texts: Iterable[str]) -> list[str]:
    """Special tokens first, then every piece of `texts`, every digit and the roles, sorted (deterministic)."""
    splitter = _pre_tokenizer()
    pieces = {" ", "\n", *ROLES}
    pieces.update(str(d) for d in range(10))
    pieces.update(f" {d}" for d in range(10))
    for text in texts:
        for tag in (IM_START, IM_END, *ANSWER_TAGS):
            text = text.replace(tag, " ")
        pieces.update(piece for piece, _ in splitter.pre_tokenize_str(text))
    return [END_OF_TEXT, IM_START, IM_END, UNKNOWN, *ANSWER_TAGS, *sorted(pieces)]


def build_tokenizer(texts: Iterable[str]):
    """A `PreTrainedTokenizerFast` over the vocabulary of `texts` (see the module docstring), padding on the left."""
    from tokenizers import AddedToken, Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = vocabulary(texts)
    backend = Tokenizer(models.WordLevel({piece: i for i, piece in enumerate(vocab)}, unk_token=UNKNOWN))
    backend.pre_tokenizer = _pre_tokenizer()
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens([AddedToken(t, normalized=False) for t in (END_OF_TEXT, IM_START, IM_END, UNKNOWN)])
    backend.add_tokens([AddedToken(t, normalized=False) for t in ANSWER_TAGS])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=IM_END,
        pad_token=END_OF_TEXT,
        unk_token=UNKNOWN,
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
        model_max_length=ARCHITECTURE["max_position_embeddings"],
        clean_up_tokenization_spaces=False,
    )


def build_model(tokenizer, seed: int):
    """A freshly initialised `LlamaForCausalLM` sized by `ARCHITECTURE`, seeded."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **ARCHITECTURE,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def save(model, tokenizer, out_dir: Path) -> None:
    """Write weights (safetensors), config, generation config and tokenizer, loadable by the Auto classes."""
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
