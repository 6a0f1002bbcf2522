"""What a training objective is: its `--objective` name and help, its own options, what it rules out, and the
loss it has the Trainer compute. Standard library only at import (options.py reads the declarations for
`options --json`); a loss imports torch when it runs."""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..fields import OptionError

# (trainer, model, inputs, num_items_in_batch) -> (loss, model outputs). The loss is summed over the labelled
# tokens and divided by num_items_in_batch (the optimizer step's token count) when that is given; train.py
# scales it by the process count where the Trainer averages tokens across devices.
LossFn = Callable[[Any, Any, dict, Any], tuple]


class Objective:
    """One objective. A new one subclasses this in a module of this folder and is listed in OBJECTIVES
    (objectives/__init__.py); `--objective <name>` then selects it, and its options come with it."""

    #: The `--objective` value.
    name: str = ""
    #: What it is, in `--objective`'s help (`name: help`).
    help: str = ""
    #: A dataclass of its own options (fields made with fields.opt, base fields.Checked), or None. They join
    #: the "objective" group after `--objective`, and `TrainOptions` gains them (and its properties).
    arguments: Optional[type] = None
    #: train.yaml sections its options sit in (`section=` in their metadata): name -> prefix, help (see
    #: options.CONFIG_SECTIONS).
    sections: dict[str, dict[str, Any]] = {}
    #: It needs the full-vocabulary logits, so `--loss chunked` is refused and `--loss auto` picks stock.
    full_logits: bool = False

    def check(self, opts: Any, hyper: Any) -> None:
        """Raises OptionError for what this objective cannot do with these options and this preset."""
        if self.full_logits and opts.loss == "chunked":
            raise OptionError(f"--loss chunked is not possible with --objective {self.name} (it needs full logits)")

    def start_info(self, opts: Any) -> dict[str, Any]:
        """What the `start` event says about it besides its name."""
        return {}

    def loss(self, opts: Any, chunked: bool) -> Optional[LossFn]:
        """The loss the Trainer computes with it (`chunked`: the chunked head + loss was chosen); None: the
        Trainer's own, stock cross-entropy on the labels."""
        return None
