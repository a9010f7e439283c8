"""r3's decoding loop for the HF backend: `model.generate`'s greedy/sampling loop, minus the rows that are done.

    rows = decode(model, input_ids, attention_mask, budget=256, stop_ids=[2], choose=sampler.draw)

Why not `model.generate`: it keeps computing every row of a batch until the last one stops, so a batch where most
completions end early spends most of its steps on finished rows (measured on SmolLM2-135M: greedy, batch 8, 32 new
tokens, 149 of the 256 row-steps were wasted; docs/benchmarks/real_model.md). This loop drops finished rows from the
batch and from the KV cache (`Cache.batch_select_indices`) once a quarter of the rows in flight are done, so the
copy of the cache is paid a few times per call rather than at every stop.

What stays as in `generate`: left padding, position ids from the attention mask (so greedy output does not depend on
padding), the KV cache, logits of the last position only, float32 scores. What changes: a row's logits are computed
in smaller batches once others are dropped, which can differ from the full batch in the last bits of floating point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

EVICT_SHARE = 0.25
"""Drop finished rows once they are this share of the rows in flight (or all of them)."""


def decode(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    budget: int,
    stop_ids: Sequence[int],
    choose: Callable[[torch.Tensor, list[int]], torch.Tensor],
    on_tokens: Callable[[int, int], None] | None = None,
    cache: Any = None,
    on_leave: Callable[[int, list[int], Any, torch.Tensor, int], None] | None = None,
) -> list[list[int]]:
    """Generate up to `budget` tokens per row of the left-padded batch; return each row's tokens, its stop token
    included. `choose(scores, rows)` picks the next token of each row in flight (`rows`: their original indices).

    `cache`: a KV cache already holding a prefix of every row (`attention_mask` then covers the cache and
    `input_ids`); `on_leave(row, tokens, cache, mask, index)` hears of each row as it leaves the batch, while its
    keys and values are still at batch index `index` of `cache` (`r3.generation.prefix` keeps them)."""
    from transformers import DynamicCache

    stops = torch.tensor(list(stop_ids), device=input_ids.device)
    generated: list[list[int]] = [[] for _ in range(input_ids.shape[0])]
    rows = list(range(input_ids.shape[0]))  # original index of each row in flight
    cache = DynamicCache(config=model.config) if cache is None else cache
    mask = attention_mask
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)[:, -input_ids.shape[1]:]  # pads get 0, as generate gives
    logits = _forward(model, input_ids, mask, position_ids, cache)
    done = torch.zeros(len(rows), dtype=torch.bool, device=input_ids.device)
    for step in range(1, budget + 1):
        tokens = choose(logits, rows)  # [rows in flight]
        live = (~done).tolist()  # a row that stopped keeps its place (and is ignored) until it is dropped
        for row, token, alive in zip(rows, tokens.tolist(), live):
            if alive:
                generated[row].append(token)
        if on_tokens is not None:
            on_tokens(step, sum(live))
        done = done | torch.isin(tokens, stops)
        if step == budget or bool(done.all()):
            break
        if int(done.sum()) >= max(1, EVICT_SHARE * len(rows)):
            if on_leave is not None:
                for index in done.nonzero().flatten().tolist():
                    on_leave(rows[index], generated[rows[index]], cache, mask, index)
            keep = (~done).nonzero().flatten()
            cache.batch_select_indices(keep)
            rows = [rows[i] for i in keep.tolist()]
            tokens, mask, done = tokens[keep], mask[keep], done[keep]
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
        position_ids = mask.sum(-1, keepdim=True) - 1
        logits = _forward(model, tokens[:, None], mask, position_ids, cache)
    if on_leave is not None:
        for index, row in enumerate(rows):
            on_leave(row, generated[row], cache, mask, index)
    return generated


def _forward(model: Any, input_ids: torch.Tensor, mask: torch.Tensor, position_ids: torch.Tensor,
             cache: Any) -> torch.Tensor:
    """The next-token scores of every row, [rows, vocab] in float32; only the last position's logits are built."""
    takes = _forward_parameters(model)
    options = {"logits_to_keep": 1} if "logits_to_keep" in takes else {}
    options["cache" if "cache" in takes else "past_key_values"] = cache  # transformers 5 renames it `cache`
    output = model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids, use_cache=True, **options)
    return output.logits[:, -1].float()


def _forward_parameters(model: Any) -> frozenset[str]:
    """The keywords the model's forward names: a peft wrapper's `**kwargs` forward passes them on to its base model's
    (another wrapper names none, and then only what every causal LM takes is passed)."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        return frozenset(inspect.signature(base.forward).parameters)
    except (TypeError, ValueError):
        return frozenset()
