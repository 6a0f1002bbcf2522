"""`--objective constrained`: Qi et al. (2024, "Safety Alignment Should Be Made More Than Just a Few Tokens
Deep", section 4) token-wise constrained objective: fine-tune while keeping each position's token distribution
close to a frozen, aligned reference, most tightly at the first response tokens, where shallow alignment lives.

    loss = mean over labelled tokens t of  (2 / beta_t) * log(1 + exp(-beta_t * (log p_theta(y_t) - log p_ref(y_t))))

i.e. -(2/beta_t) log sigmoid(beta_t * log-ratio). A small beta_t approaches plain cross-entropy (minus a
constant); a large one stops the log-ratio from growing past about 1/beta_t. The schedule is by the token's
position in its response (1 = the first labelled token): the paper's beta_1 = 0.5, beta_t = 2 for
2 <= t <= 5, beta_t = 0.1 after. With LoRA the reference is the base model itself (the adapter switched
off), so no second copy of the weights is held. torch is imported where the loss runs (options --json reads
this module without it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

from ..fields import Checked, OptionError, PositiveInt, opt
from .objective import LossFn, Objective

IGNORE = -100


@dataclass(frozen=True)
class BetaSchedule:
    first: float = 0.5
    early: float = 2.0
    rest: float = 0.1
    early_tokens: int = 5  # positions 2..early_tokens get `early`

    def betas(self, positions):
        """beta per position (1-based; 0 = not a response token, any value)."""
        import torch

        out = torch.full(positions.shape, self.rest, dtype=torch.float32, device=positions.device)
        out = torch.where(positions <= self.early_tokens, torch.full_like(out, self.early), out)
        return torch.where(positions <= 1, torch.full_like(out, self.first), out)


def _beta(default: Any, help: str, **metadata: Any) -> Any:  # noqa: A002
    """An option of the beta schedule: train.yaml's `beta:` section, which shows no default."""
    return opt(default, section="beta", config_default=False, help=help, **metadata)


@dataclass(kw_only=True)
class ConstrainedArguments(Checked):
    beta_first: float = _beta(0.5, "constrained: beta of the first response token", exclusive_minimum=0)
    beta_early: float = _beta(2.0, "constrained: beta of tokens 2..--beta-early-tokens", exclusive_minimum=0)
    beta_rest: float = _beta(0.1, "constrained: beta of later tokens", exclusive_minimum=0)
    beta_early_tokens: PositiveInt = _beta(5, "constrained: last early position", aliases=["--early-tokens"])

    @property
    def beta(self) -> BetaSchedule:
        return BetaSchedule(self.beta_first, self.beta_early, self.beta_rest, self.beta_early_tokens)


class Constrained(Objective):
    name = "constrained"
    help = "Qi et al. 2024 token-wise constrained objective against the frozen base (LoRA only)"
    arguments = ConstrainedArguments
    sections = {"beta": {"prefix": "beta_", "help": "the constrained objective's per-position beta schedule"}}
    full_logits = True

    def check(self, opts: Any, hyper: Any) -> None:
        if not hyper.lora:
            raise OptionError(
                "--objective constrained needs --preset lora: the frozen reference is the base model with the "
                "adapter switched off (a full fine-tune would need a second copy of the weights)"
            )
        super().check(opts, hyper)

    def start_info(self, opts: Any) -> dict[str, Any]:
        return {"beta": asdict(opts.beta)}

    def loss(self, opts: Any, chunked: bool) -> Optional[LossFn]:
        schedule = opts.beta

        def against_the_base(trainer, model, inputs, num_items_in_batch):
            """The reference is the same network with its LoRA adapter switched off."""
            import torch

            peft_model = trainer.accelerator.unwrap_model(model)
            outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            with torch.no_grad(), peft_model.disable_adapter():
                ref = peft_model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
            return constrained_loss(outputs.logits, ref, inputs["labels"], schedule, num_items_in_batch), outputs

        return against_the_base


def response_positions(labels):
    """For shifted labels [batch, seq]: each labelled token's 1-based position among its row's labelled tokens."""
    import torch

    mask = labels != IGNORE
    return torch.where(mask, mask.long().cumsum(-1), torch.zeros_like(labels))


def constrained_loss(logits, ref_logits, labels, schedule: BetaSchedule, divisor=None):
    """The objective over a batch. `logits` / `ref_logits` are [batch, seq, vocab] for the same inputs and
    `labels` the unshifted [batch, seq] labels; the sum is divided by `divisor` (the optimizer step's token
    count under gradient accumulation) or by this batch's labelled tokens."""
    import torch
    import torch.nn.functional as F

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


CONSTRAINED = Constrained()
