"""Linear + cross-entropy in chunks, without materialising the full-vocabulary logits.

A stock causal-LM forward computes `logits = hidden @ W.T` for every position (batch x length x 128k floats
for Llama-3: 4 GiB in fp32 for 8 x 1024 tokens) and keeps them for the backward pass. Here only positions
with a label take part, a chunk of rows at a time; each chunk's gradient with respect to its hidden states
(and the head's weight, if it trains) is computed right away in the forward pass, so at most one chunk of
logits exists at any moment and nothing vocabulary-sized is stored for backward.

The loss is the same as `F.cross_entropy(logits.float(), labels, ignore_index=-100, reduction="sum") / divisor`
up to float rounding (logits are upcast to fp32 per chunk, as transformers' own loss does).
"""

from __future__ import annotations

import torch

IGNORE_INDEX = -100


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, divisor, chunk_size, track_grads):  # type: ignore[override]
        # hidden: (N, H) rows that have a label; weight: (V, H); targets: (N,) ids in [0, V).
        ctx.weight_dtype = weight.dtype
        # Gradients are computed here, in the forward pass; skip that work under torch.no_grad (evaluation).
        need_h = track_grads and ctx.needs_input_grad[0]
        need_w = track_grads and ctx.needs_input_grad[1]
        ctx.computed = (need_h, need_w)
        grad_hidden = torch.empty_like(hidden) if need_h else None
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        with torch.autocast(device_type=hidden.device.type, enabled=False):  # dtypes are managed by hand here
            for start in range(0, hidden.shape[0], chunk_size):
                _chunk(hidden, weight, targets, divisor, start, chunk_size, total, grad_hidden, grad_weight)
        empty = torch.empty(0)
        ctx.save_for_backward(grad_hidden if need_h else empty, grad_weight if need_w else empty)
        return total / divisor

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        grad_hidden, grad_weight = ctx.saved_tensors
        need_h, need_w = ctx.computed
        gh = grad_hidden * grad_out.to(grad_hidden.dtype) if need_h else None
        gw = (grad_weight * grad_out).to(ctx.weight_dtype) if need_w else None
        return gh, gw, None, None, None, None


def _chunk(hidden, weight, targets, divisor, start, size, total, grad_hidden, grad_weight) -> None:
    h = hidden[start : start + size]
    y = targets[start : start + size]
    logits = (h @ weight.t()).float()
    lse = torch.logsumexp(logits, dim=-1)
    total += (lse - logits.gather(1, y[:, None]).squeeze(1)).sum()
    if grad_hidden is None and grad_weight is None:
        return
    # d(sum of CE)/d(logits) = softmax - one_hot(target), scaled by 1/divisor; computed in place on the logits.
    g = torch.exp_(logits.sub_(lse[:, None]))
    g[torch.arange(g.shape[0], device=g.device), y] -= 1.0
    g.div_(divisor)
    if grad_hidden is not None:
        grad_hidden[start : start + size] = g.to(weight.dtype) @ weight
    if grad_weight is not None:
        grad_weight.addmm_(g.t(), h.float())


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    divisor: float | torch.Tensor | None = None,
    chunk_size: int = 1024,
) -> torch.Tensor:
    """Causal-LM loss from the last hidden states and the output head.

    hidden: (B, T, H); weight: (V, H); labels: (B, T) with -100 for ignored positions. Position t predicts
    labels[t + 1] (the usual shift). The summed loss is divided by `divisor` (default: the number of counted
    tokens), so pass the Trainer's `num_items_in_batch` to get gradient-accumulation-correct averaging.
    """
    shift_hidden = hidden[:, :-1, :].reshape(-1, hidden.shape[-1])
    shift_labels = labels[:, 1:].reshape(-1)
    keep = shift_labels != IGNORE_INDEX
    rows = shift_hidden[keep]
    targets = shift_labels[keep]
    if divisor is None:
        divisor = keep.sum().clamp(min=1)
    if not torch.is_tensor(divisor):
        divisor = torch.tensor(float(divisor), device=hidden.device)
    divisor = divisor.to(device=hidden.device, dtype=torch.float32)
    device = hidden.device.type
    if torch.is_autocast_enabled(device):
        # Match what the stock head would do under mixed precision: the matmul in the autocast dtype.
        dtype = torch.get_autocast_dtype(device)
        rows, weight = rows.to(dtype), weight.to(dtype)
    elif rows.dtype != weight.dtype:
        rows = rows.to(weight.dtype)
    if rows.shape[0] == 0:
        # Nothing to learn in this micro-batch; keep the graph connected so backward still works.
        return (hidden.sum() + weight.sum()) * 0.0
    return _LinearCrossEntropy.apply(rows, weight, targets, divisor, chunk_size, torch.is_grad_enabled())

