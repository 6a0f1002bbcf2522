"""The options of `python -m refusenik_trainer train`, declared once: each is a dataclass field whose metadata
carries its help (and choices, bounds, and where train.yaml sets it); `transformers.HfArgumentParser` turns the
fields into flags, and the parsed groups make up `TrainOptions`, which is what `train()` takes.

The TypeScript side reads the same declaration: `python -m refusenik_trainer options --json` prints
`option_schema()` (every option's type, default, preset defaults, choices, bounds, help and train.yaml key),
checked in as src/derta/trainer-options.ts, from which src/derta/trainer.ts builds train.yaml's schema and
defaults and maps each key onto its flag (`hyper.warmup_ratio` -> `--warmup-ratio`). A new option is one field
here (an objective's own options: its module, objectives/); then regenerate that file (`node scripts/trainer-options.mjs`; a test fails while it is stale).

Flags. HfArgumentParser accepts each field as `--field_name` and `--field-name`; booleans as `--flag` (or
`--flag true|false`), and `--no-flag` for the ones that default to true. Abbreviated flags are not accepted.

Pass-through. Every flag left over once these options are parsed must be a `transformers.TrainingArguments`
field (`--adam_beta2 0.95`, `--optim adamw_torch_fused`, `--report_to wandb`, `--lr_scheduler_kwargs '{...}'`);
only the fields actually given are applied, on top of the TrainingArguments that train.py builds from the preset
(TrainingArguments' own defaults, e.g. learning_rate 5e-5, never replace the preset's). A TrainingArguments field
that one of our options sets under another name (`--learning_rate`: `--lr`) is rejected, naming the option to
use; one with the same name (`--seed`, `--max_steps`, `--warmup_ratio`, ...) is ours. Anything else is an error
that names the flag. Every such error is an `OptionError` (exit status 2).
"""

import argparse
import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from .fields import (
    CONFIG_DEFAULT,
    OURS,
    SECTION,
    SETS,
    Checked,
    Fraction,
    OptionError,
    PositiveInt,
    bounds_of,
    flag_name,
    opt,
)
from .objectives import OBJECTIVES
from .presets import PRESETS


# Where train.yaml sets an option (its `section`): "launch": the launcher sets the flag from its own keys
# (model, data, output_dir, preset); "train": a top-level key of the option's name; a key of CONFIG_SECTIONS:
# inside that mapping, named without the prefix (`beta.first` -> --beta-first); None: only as a flag
# (train.yaml's `extra_args`). A section with a "default" is filled with it when left out. The objectives bring
# the sections of their own options (objectives/: `beta`).
CONFIG_SECTIONS: dict[str, dict[str, Any]] = {
    "hyper": {"prefix": "", "default": {}, "help": "hyper-parameters; each left out is the preset's"},
    **{name: section for o in OBJECTIVES.values() for name, section in o.sections.items()},
}


# ---- the options -------------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class ModelArguments(Checked):
    _argument_group_name = "model and data"
    _section = "launch"

    model: str = opt(help="model folder (or hub name) to start from")
    data: str = opt(help="train.jsonl / train.parquet, or the folder holding it")
    output_dir: str = opt(help="checkpoints and the final model (or adapter) go here")
    preset: str = opt("full", choices=sorted(PRESETS), section="train", help="paper recipe")
    random_init: bool = opt(
        False, section="train", help="fresh weights from the model's config.json (tests, benchmarks)"
    )
    tokenizer: Optional[str] = opt(None, help="tokenizer folder to save with the result (default: the model's)")


@dataclass(kw_only=True)
class HyperArguments(Checked):
    """Each overrides the preset's value (presets.Hyper) when given; None means "the preset's"."""

    _argument_group_name = "hyper-parameters (default: the preset's)"
    _section = "hyper"

    lr: Optional[float] = opt(
        None, exclusive_minimum=0, sets=["learning_rate"], help="peak learning rate (full 2e-5, lora 1e-4)"
    )
    scheduler: Optional[str] = opt(
        None,
        sets=["lr_scheduler_type"],
        help="HF scheduler name: cosine, linear, constant, ... (full cosine, lora linear)",
    )
    warmup_ratio: Optional[Fraction] = opt(None, help="share of steps warming up (full 0.03, lora 0)")
    weight_decay: Optional[float] = opt(None, minimum=0, help="AdamW weight decay (full 2e-5, lora 0)")
    epochs: Optional[float] = opt(
        None, exclusive_minimum=0, sets=["num_train_epochs"], help="passes over the data (2)"
    )
    block_size: Optional[PositiveInt] = opt(None, help="longer rows are truncated, as upstream")
    global_batch_size: Optional[PositiveInt] = opt(
        None,
        sets=["gradient_accumulation_steps"],
        help="sequences per optimizer step (paper: 128); gradient accumulation is derived from it",
    )
    micro_batch_size: Optional[PositiveInt] = opt(
        None, sets=["per_device_train_batch_size"], help="sequences per device per forward pass"
    )
    lora_r: Optional[PositiveInt] = opt(None, help="LoRA rank (96)")
    lora_alpha: Optional[PositiveInt] = opt(None, help="LoRA alpha (16)")
    lora_dropout: Optional[Fraction] = opt(None, help="LoRA dropout (0.05)")
    max_grad_norm: Optional[float] = opt(None, exclusive_minimum=0, help="gradient clipping (1.0)")
    checkpointing: Optional[Fraction] = opt(
        None,
        sets=["gradient_checkpointing"],
        help="share of decoder layers that recompute activations (1 = full gradient checkpointing, 0 = off)",
    )


@dataclass(kw_only=True)
class RunArguments(Checked):
    _argument_group_name = "run"
    _section = "train"

    max_steps: int = opt(
        -1, minimum=1, config_default=False, help="stop after this many optimizer steps (-1: the epochs decide)"
    )
    seed: int = opt(1, minimum=0, help="paper: 1 (also the data order's seed)")
    precision: str = opt(
        "auto", choices=["auto", "bf16", "fp16", "fp32"], sets=["bf16", "fp16"], help="auto: bf16 where supported"
    )
    loss: str = opt(
        "auto",
        choices=["auto", "chunked", "stock"],
        help="chunked: head + cross-entropy in chunks, never the full-vocabulary logits (auto: when possible)",
    )
    group_by_length: bool = opt(
        True, help="batches of similar length, less padding (--no-group-by-length: plain random batches)"
    )
    save_steps: PositiveInt = opt(200, config_default=False, help="checkpoint every n steps")
    save_total_limit: PositiveInt = opt(3, config_default=False, help="checkpoints kept")
    logging_steps: PositiveInt = opt(10, config_default=False, help="a step event every n steps")
    resume: str = opt(
        "auto",
        sets=["resume_from_checkpoint"],
        help="auto (latest checkpoint in --output-dir), never, or a checkpoint folder",
    )
    deepspeed: Optional[str] = opt(None, help="DeepSpeed JSON config (see trainer/configs/)")
    fsdp: Optional[str] = opt(None, help='FSDP mode, e.g. "full_shard auto_wrap"')
    fsdp_config: Optional[str] = opt(None, help="FSDP JSON config")
    torch_compile: bool = opt(False, help="torch.compile the model")
    # Flags only (train.yaml: `extra_args`).
    attn_implementation: Optional[str] = opt(None, section=None, help="eager, sdpa or flash_attention_2")
    dataloader_workers: int = opt(
        0, section=None, sets=["dataloader_num_workers"], help="data loading processes"
    )
    use_cpu: bool = opt(False, section=None, aliases=["--cpu"], help="train on the CPU even with a GPU")


@dataclass(kw_only=True)
class ObjectiveChoice(Checked):
    objective: str = opt(
        "mle",
        choices=list(OBJECTIVES),
        help="; ".join(f"{o.name}: {o.help}" for o in OBJECTIVES.values()),
    )


# The "objective" group: --objective, then each objective's own options in OBJECTIVES' order (a dataclass lists
# its bases' fields from the last base to the first).
ObjectiveArguments: type = dataclass(kw_only=True)(
    type(
        "ObjectiveArguments",
        (*reversed([o.arguments for o in OBJECTIVES.values() if o.arguments]), ObjectiveChoice),
        {"__module__": __name__, "_argument_group_name": "objective", "_section": "train"},
    )
)


OPTION_GROUPS: tuple[type, ...] = (ModelArguments, HyperArguments, RunArguments, ObjectiveArguments)


@dataclass(kw_only=True)
class TrainOptions(ObjectiveArguments, RunArguments, HyperArguments, ModelArguments):
    """Everything `train` needs: every option above, plus the TrainingArguments fields given on the command
    line (field name -> parsed value), applied over the TrainingArguments that train.py builds. An objective's
    options bring their properties (the constrained objective's `beta`)."""

    training_args: dict[str, Any] = field(default_factory=dict)

    @property
    def overrides(self) -> dict[str, Any]:
        """The hyper-parameters given (None: the preset's), for `Hyper.with_overrides`."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(HyperArguments)}


# ---- the schema (`python -m refusenik_trainer options --json`) ---------------------------------------------

_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


def _json_type(tp: Any) -> tuple[str, dict[str, Any]]:
    """An annotation -> its JSON type and the bounds its type implies (Optional[...] unwrapped)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        (tp,) = [a for a in typing.get_args(tp) if a is not type(None)]
    for py, name in _JSON_TYPES:
        if isinstance(tp, type) and issubclass(tp, py):
            return name, dict(getattr(tp, "bounds", {}))
    raise TypeError(f"no JSON type for {tp!r}")


def _json_value(value: Any) -> Any:
    """A default as JSON has it: Fraction / PositiveInt as plain float / int."""
    if value is None or isinstance(value, (bool, str)):
        return value
    return float(value) if isinstance(value, float) else int(value)


def option_schema() -> dict[str, Any]:
    """Every option of `train`, in flag order: name -> its flag (and aliases), JSON type, bounds, choices,
    default (absent: required; null: none, or the preset's), the presets' values where the preset decides,
    help, argparse group, the TrainingArguments fields it sets, and where train.yaml sets it (`section`, `key`,
    and `config_default`, the value train.yaml fills in when the key is left out; absent: none). Plus the
    presets and train.yaml's sections (CONFIG_SECTIONS). What src/derta/trainer-options.ts holds."""
    options: dict[str, Any] = {}
    for group in OPTION_GROUPS:
        hints = typing.get_type_hints(group)
        for f in dataclasses.fields(group):
            kind, bounds = _json_type(hints[f.name])
            entry: dict[str, Any] = {"flag": f"--{flag_name(f.name)}", "aliases": list(f.metadata.get("aliases", []))}
            entry.update(type=kind, **bounds, **bounds_of(f))
            if "choices" in f.metadata:
                entry["choices"] = list(f.metadata["choices"])
            if f.default is not dataclasses.MISSING:
                entry["default"] = _json_value(f.default)
            if group is HyperArguments:
                entry["presets"] = {name: _json_value(getattr(PRESETS[name], f.name)) for name in sorted(PRESETS)}
            section = f.metadata.get(SECTION, getattr(group, "_section"))
            prefix = CONFIG_SECTIONS[section]["prefix"] if section in CONFIG_SECTIONS else ""
            entry["section"] = section
            entry["key"] = f.name[len(prefix) :] if section not in (None, "launch") else None
            if (
                section not in (None, "launch")
                and f.default not in (None, dataclasses.MISSING)
                and f.metadata.get(CONFIG_DEFAULT, True)
            ):
                entry["config_default"] = entry["default"]
            entry["sets"] = list(f.metadata.get(SETS, []))
            entry["group"] = group._argument_group_name
            entry["help"] = f.metadata["help"]
            options[f.name] = entry
    return {
        "command": "python -m refusenik_trainer train",
        "presets": {
            name: {k: _json_value(v) for k, v in dataclasses.asdict(hyper).items()}
            for name, hyper in sorted(PRESETS.items())
        },
        "sections": CONFIG_SECTIONS,
        "options": options,
    }


# ---- parsing -----------------------------------------------------------------------------------------------


def _parser_class():
    from transformers import HfArgumentParser

    class OptionParser(HfArgumentParser):
        """HfArgumentParser that raises OptionError instead of exiting, and drops our own metadata keys."""

        def error(self, message: str):  # argparse calls this for every parse error
            raise OptionError(message)

        @staticmethod
        def _parse_dataclass_field(parser, f: dataclasses.Field):
            if any(k in f.metadata for k in OURS):
                f = copy.copy(f)
                f.metadata = types.MappingProxyType({k: v for k, v in f.metadata.items() if k not in OURS})
            HfArgumentParser._parse_dataclass_field(parser, f)

    return OptionParser


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default only where there is one to show and the help does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.required or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def _epilog() -> str:
    taken = {}
    for field_name, ours in owned_training_args().items():
        taken.setdefault(ours, []).append(f"--{field_name}")
    return (
        "Any other flag must be a transformers TrainingArguments field, e.g. --adam_beta2 0.95, "
        "--optim adamw_torch_fused, --report_to wandb, --lr_scheduler_kwargs '{\"min_lr\": 1e-6}': only the "
        "fields given are applied, over the preset. Fields that an option above sets are rejected: "
        + "; ".join(f"{'/'.join(fs)} (use {ours})" for ours, fs in taken.items())
        + "."
    )


def build_train_parser():
    return _parser_class()(
        OPTION_GROUPS,
        prog="python -m refusenik_trainer train",
        description="Full fine-tune or LoRA on rows written by `refusenik derta build`. Presets follow the "
        "paper: full = lr 2e-5 cosine, warmup 0.03, wd 2e-5, 2 epochs, block 1024; lora = r 96, alpha 16, "
        "dropout 0.05 on every attention and MLP projection, lr 1e-4 linear, block 512. Both use a global batch "
        "of 128.",
        epilog=_epilog(),
        formatter_class=_HelpFormatter,
        allow_abbrev=False,
    )


def owned_training_args() -> dict[str, str]:
    """TrainingArguments field -> the flag of ours that sets it under another name."""
    owned = {}
    for group in OPTION_GROUPS:
        for f in dataclasses.fields(group):
            for name in f.metadata.get(SETS, ()):
                owned[name] = f"--{flag_name(f.name)}"
    return owned


def parse_training_args(argv: Sequence[str]) -> dict[str, Any]:
    """The TrainingArguments fields given in argv (and only those), parsed by their field types."""
    from transformers import TrainingArguments

    owned = owned_training_args()
    for arg in argv:  # before the values are parsed, so the message is about the flag, not its value
        name = arg[2:].split("=", 1)[0].replace("-", "_") if arg.startswith("--") else ""
        if name in owned:
            raise OptionError(
                f"--{name}: refusenik sets TrainingArguments.{name} from {owned[name]}; use {owned[name]} instead"
            )
    parser = _parser_class()(TrainingArguments, allow_abbrev=False, add_help=False)
    for action in parser._actions:
        action.default = argparse.SUPPRESS  # absent flags stay absent: TrainingArguments' defaults never apply
        action.required = False
    namespace, unknown = parser.parse_known_args(list(argv))
    if unknown:
        flags = [a for a in unknown if a.startswith("-")] or unknown
        raise OptionError(
            f"unrecognized argument{'s' if len(flags) > 1 else ''}: {' '.join(flags)} (neither a train option "
            "nor a transformers TrainingArguments field; see --help)"
        )
    return vars(namespace)


def parse_train_args(argv: Sequence[str]) -> TrainOptions:
    """`train`'s argv (without the word `train`) -> TrainOptions; OptionError for anything wrong."""
    *groups, rest = build_train_parser().parse_args_into_dataclasses(
        list(argv), return_remaining_strings=True, look_for_args_file=False
    )
    values: dict[str, Any] = {}
    for group in groups:
        values.update(vars(group))
    return TrainOptions(**values, training_args=parse_training_args(rest))
