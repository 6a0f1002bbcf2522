"""Qi et al. (2024, "Safety Alignment Should Be Made More Than Just a Few Tokens Deep", section 4) token-wise
constrained objective: fine-tune while keeping each position's token distribution close to a frozen,
aligned reference, most tightly at the first response tokens, where shallow alignment lives.

    loss = mean over labelled tokens t of  (2 / beta_t) * log(1 + exp(-beta_t * (log p_theta(y_t) - log p_ref(y_t))))

i.e. -(2/beta_t) log sigmoid(beta_t * log-ratio). A small beta_t approaches plain cross-entropy (minus a
constant); a large one stops the log-ratio from growing past about 1/beta_t. The schedule is by the token's
position in its response (1 = the first labelled token): the paper's beta_1 = 0.5, beta_t = 2 for
2 <= t <= 5, beta_t = 0.1 after. With LoRA the reference is the base model itself (the adapter switched
off), so no second copy of the weights is held.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE = -100


@dataclass(frozen=True)
class BetaSchedule:
    first: float = 0.5
    early: float = 2.0
    rest: float = 0.1
    early_tokens: int = 5  # positions 2..early_tokens get `early`

    def betas(self, positions: torch.Tensor) -> torch.Tensor:
        """beta per position (1-based; 0 = not a response token, any value)."""
        out = torch.full(positions.shape, self.rest, dtype=torch.float32, device=positions.device)
        out = torch.where(positions <= self.early_tokens, torch.full_like(out, self.early), out)
        return torch.where(positions <= 1, torch.full_like(out, self.first), out)


def response_positions(labels: torch.Tensor) -> torch.Tensor:
    """For shifted labels [batch, seq]: each labelled token's 1-based position among its row's labelled tokens."""
    mask = labels != IGNORE
    return torch.where(mask, mask.long().cumsum(-1), torch.zeros_like(labels))


def constrained_loss(
    logits: torch.Tensor,
    ref_logits: torch.Tensor,
    labels: torch.Tensor,
    schedule: BetaSchedule,
    divisor: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """The objective over a batch. `logits` / `ref_logits` are [batch, seq, vocab] for the same inputs and
    `labels` the unshifted [batch, seq] labels; the sum is divided by `divisor` (the optimizer step's token
    count under gradient accumulation) or by this batch's labelled tokens."""
    target = labels[:, 1:]
    mask = target != IGNORE
    safe = target.clamp(min=0).unsqueeze(-1)
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, safe).squeeze(-1)
    with torch.no_grad():
        logp_ref = torch.log_softmax(ref_logits[:, :-1].float(), dim=-1).gather(-1, safe).squeeze(-1)
    beta = schedule.betas(response_positions(target))
    per_token = (2.0 / beta) * F.softplus(-beta * (logp - logp_ref))
    total = (per_token * mask).sum()
    denom = divisor if divisor is not None else mask.sum().clamp(min=1)
    return total / denom
