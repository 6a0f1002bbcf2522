"""`--objective mle`: cross-entropy on the labels, as DeRTa trains (the RTO rewrite is in the labels already).

Pooled at token level over the whole optimizer step (the Trainer's `num_items_in_batch`), so helpfulness,
harmful-prefix and RTO tokens weigh as in the paper. With `--loss chunked` the head and the loss run in chunks
and the full-vocabulary logits never exist (chunked_loss.py); otherwise the Trainer's stock loss runs.
"""

from __future__ import annotations

from typing import Any, Optional

from .objective import LossFn, Objective


class Mle(Objective):
    name = "mle"
    help = "cross-entropy on the labels (DeRTa)"

    def loss(self, opts: Any, chunked: bool) -> Optional[LossFn]:
        return chunked_cross_entropy if chunked else None


def chunked_cross_entropy(trainer, model, inputs, num_items_in_batch):
    """The chunked loss: the forward asks for one position's logits, the decoder's final hidden states come
    from a hook, and the head + cross-entropy run in chunks over them."""
    from ..chunked_loss import linear_cross_entropy

    base = trainer.accelerator.unwrap_model(model)
    if hasattr(base, "get_base_model"):  # PEFT
        base = base.get_base_model()
    captured: dict[str, Any] = {}

    def grab(_module, _args, output):
        captured["hidden"] = output[0] if isinstance(output, tuple) else output.last_hidden_state

    # Run the forward through the (possibly DDP-wrapped) model so distributed hooks see it, asking for the
    # logits of one position only, and take the decoder's final hidden states from a hook.
    handle = base.get_decoder().register_forward_hook(grab)
    try:
        outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], logits_to_keep=1)
    finally:
        handle.remove()
    head = base.get_output_embeddings()
    loss = linear_cross_entropy(captured["hidden"], head.weight, inputs["labels"], divisor=num_items_in_batch)
    loss = loss + outputs.logits.sum() * 0.0  # keep the tiny logits in the graph (unused-parameter checks)
    return loss, outputs


MLE = Mle()
