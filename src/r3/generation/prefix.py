"""Reuse of the KV cache of a shared prefix between generate calls (HF backend; on by default on CPU).

A reflection prompt is the attempt's prompt + the attempt's ids + the next turn, and a retry prompt extends the
reflection's the same way, so most of each phase's prompt was already computed by the call before it. On a CPU the
prompt is most of a reflection call's cost (docs/benchmarks/real_model.md). `PrefixCache` keeps, for every row of
the last call, the keys and values of its prompt + generated ids; the next call looks each prompt up by token
prefix, places the cached rows right-aligned in one cache (the gaps masked; position ids come from the mask) and
feeds only the new tokens.

Numerics: cached keys were computed one token at a time during decoding, not in one pass over the prompt, so logits
can differ from a fresh prefill in the last bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class PrefixCache:
    """Per-row KV of the last generate call, keyed by the row's tokens (prompt + generated ids but the last).

    At most `max_rows` rows are kept per call (a mining round can hold a thousand samples; an episode phase holds
    one batch), which bounds the memory: rows x tokens x layers x 2 x KV heads x head size x bytes."""

    def __init__(self, max_rows: int = 64) -> None:
        self.max_rows = max_rows
        self.entries: dict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self.fresh: dict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}

    def keep(self, prompt: Sequence[int], generated: Sequence[int], cache: Any, mask: torch.Tensor,
             index: int) -> None:
        """Keep row `index` of `cache`: its valid positions (mask 1) are `prompt` + every generated id fed."""
        if len(self.fresh) >= self.max_rows:
            return
        if not all(type(layer).__name__ == "DynamicLayer" for layer in cache.layers):
            return  # sliding-window or other layers: not kept
        tokens = (*prompt, *generated[:-1])  # the last chosen id was never fed
        valid = mask[index].bool().nonzero().flatten()[: len(tokens)]
        if len(valid) < len(tokens):
            return
        self.fresh[tokens] = [(layer.keys[index][:, valid].clone(), layer.values[index][:, valid].clone())
                              for layer in cache.layers]

    def turn(self) -> None:
        """The call is over: what it kept is what the next call may reuse (older entries are dropped)."""
        self.entries, self.fresh = self.fresh, {}

    def lookup(self, prompt: Sequence[int]) -> tuple[int, list | None]:
        """The longest kept prefix of `prompt` (at least one token must stay to be fed) and its KV."""
        best, found = 0, None
        for tokens, kv in self.entries.items():
            length = min(len(tokens), len(prompt) - 1)
            if length > best and tuple(prompt[:length]) == tokens[:length]:
                best, found = length, kv
        return best, found

    def build(self, model: Any, prompts: list[list[int]], pad_id: int) -> tuple | None:
        """(input ids of the new tokens, attention mask over cache + new, the filled cache), or None without hits."""
        from transformers import DynamicCache

        hits = [self.lookup(prompt) for prompt in prompts]
        if not any(length for length, _ in hits):
            return None
        cached = max(length for length, _ in hits)
        new = max(len(prompt) - length for prompt, (length, _) in zip(prompts, hits))
        input_ids = torch.full((len(prompts), new), pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), cached + new), dtype=torch.long)
        sample = next(kv for _, kv in hits if kv is not None)
        cache = DynamicCache(config=model.config)
        for layer, (keys, values) in enumerate(sample):
            heads, _, dim = keys.shape
            k = keys.new_zeros((len(prompts), heads, cached, dim))  # [B, H, C, D], rows right-aligned
            v = values.new_zeros((len(prompts), heads, cached, dim))
            for row, (length, kv) in enumerate(hits):
                if length:
                    k[row, :, cached - length:] = kv[layer][0][:, :length]
                    v[row, :, cached - length:] = kv[layer][1][:, :length]
            cache.update(k, v, layer)
        for row, (prompt, (length, _)) in enumerate(zip(prompts, hits)):
            suffix = prompt[length:]
            input_ids[row, new - len(suffix):] = torch.tensor(suffix, dtype=torch.long)
            mask[row, cached - length:cached] = 1
            mask[row, cached + new - len(suffix):] = 1
        return input_ids, mask, cache
