"""The train options (options.py): every flag spelling that the argparse CLI had still parses to the same values,
validation errors are OptionErrors (exit 2), and TrainingArguments fields pass through: only the ones given,
over the preset, into a real (tiny, CPU) Trainer."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from refusenik_trainer.options import (
    CONFIG_SECTIONS,
    OPTION_GROUPS,
    HyperArguments,
    OptionError,
    TrainOptions,
    option_schema,
    owned_training_args,
    parse_train_args,
)
from refusenik_trainer.presets import PRESETS, Hyper

REQUIRED = ["--model", "m", "--data", "d", "--output-dir", "o"]

# What the argparse CLI gave when no flag was passed.
OLD_DEFAULTS = {
    "model": "m",
    "data": "d",
    "output_dir": "o",
    "preset": "full",
    "random_init": False,
    "tokenizer": None,
    **{name: None for name in ("lr", "scheduler", "warmup_ratio", "weight_decay", "epochs", "block_size")},
    **{name: None for name in ("global_batch_size", "micro_batch_size", "lora_r", "lora_alpha", "lora_dropout")},
    "max_grad_norm": None,
    "checkpointing": None,
    "max_steps": -1,
    "seed": 1,
    "precision": "auto",
    "loss": "auto",
    "group_by_length": True,
    "save_steps": 200,
    "save_total_limit": 3,
    "logging_steps": 10,
    "resume": "auto",
    "deepspeed": None,
    "fsdp": None,
    "fsdp_config": None,
    "torch_compile": False,
    "attn_implementation": None,
    "dataloader_workers": 0,
    "use_cpu": False,
    "objective": "mle",
    "beta_first": 0.5,
    "beta_early": 2.0,
    "beta_rest": 0.1,
    "beta_early_tokens": 5,
    "training_args": {},
}

# Every flag of the argparse CLI (as the tests, docs and src/derta/trainer.ts spelled them) -> the value it set.
OLD_FLAGS = [
    (["--preset", "lora"], {"preset": "lora"}),
    (["--random-init"], {"random_init": True}),
    (["--tokenizer", "tok"], {"tokenizer": "tok"}),
    (["--lr", "0.0002"], {"lr": 2e-4}),
    (["--scheduler", "constant"], {"scheduler": "constant"}),
    (["--warmup-ratio", "0.1"], {"warmup_ratio": 0.1}),
    (["--weight-decay", "0.01"], {"weight_decay": 0.01}),
    (["--epochs", "1.5"], {"epochs": 1.5}),
    (["--block-size", "256"], {"block_size": 256}),
    (["--global-batch-size", "64"], {"global_batch_size": 64}),
    (["--micro-batch-size", "4"], {"micro_batch_size": 4}),
    (["--lora-r", "8"], {"lora_r": 8}),
    (["--lora-alpha", "32"], {"lora_alpha": 32}),
    (["--lora-dropout", "0.1"], {"lora_dropout": 0.1}),
    (["--max-grad-norm", "0.5"], {"max_grad_norm": 0.5}),
    (["--checkpointing", "0.5"], {"checkpointing": 0.5}),
    (["--max-steps", "7"], {"max_steps": 7}),
    (["--seed", "3"], {"seed": 3}),
    (["--precision", "bf16"], {"precision": "bf16"}),
    (["--loss", "stock"], {"loss": "stock"}),
    (["--no-group-by-length"], {"group_by_length": False}),
    (["--save-steps", "5"], {"save_steps": 5}),
    (["--save-total-limit", "2"], {"save_total_limit": 2}),
    (["--logging-steps", "1"], {"logging_steps": 1}),
    (["--resume", "never"], {"resume": "never"}),
    (["--deepspeed", "ds.json"], {"deepspeed": "ds.json"}),
    (["--fsdp", "full_shard auto_wrap"], {"fsdp": "full_shard auto_wrap"}),
    (["--fsdp-config", "fsdp.json"], {"fsdp_config": "fsdp.json"}),
    (["--torch-compile"], {"torch_compile": True}),
    (["--attn-implementation", "sdpa"], {"attn_implementation": "sdpa"}),
    (["--dataloader-workers", "2"], {"dataloader_workers": 2}),
    (["--cpu"], {"use_cpu": True}),
    (["--objective", "constrained"], {"objective": "constrained"}),
    (["--beta-first", "0.4"], {"beta_first": 0.4}),
    (["--beta-early", "3"], {"beta_early": 3.0}),
    (["--beta-rest", "0.2"], {"beta_rest": 0.2}),
    (["--early-tokens", "4"], {"beta_early_tokens": 4}),
]


def values(opts: TrainOptions) -> dict:
    return {f.name: getattr(opts, f.name) for f in dataclasses.fields(opts)}


def test_no_flags_gives_the_old_defaults():
    assert values(parse_train_args(REQUIRED)) == OLD_DEFAULTS


@pytest.mark.parametrize("flags,expected", OLD_FLAGS, ids=[f[0][0] for f in OLD_FLAGS])
def test_each_old_flag_parses_to_the_same_value(flags, expected):
    assert values(parse_train_args(REQUIRED + flags)) == {**OLD_DEFAULTS, **expected}


def test_all_old_flags_together_and_the_underscore_spellings():
    together = [a for flags, _ in OLD_FLAGS for a in flags]
    expected = {k: v for _, e in OLD_FLAGS for k, v in e.items()}
    assert values(parse_train_args(REQUIRED + together)) == {**OLD_DEFAULTS, **expected}
    opts = parse_train_args(["--model", "m", "--data", "d", "--output_dir", "o", "--warmup_ratio", "0.2"])
    assert opts.output_dir == "o" and opts.warmup_ratio == 0.2 and opts.training_args == {}


def test_hyper_overrides_and_beta_schedule_come_from_the_flags():
    opts = parse_train_args(REQUIRED + ["--lr", "0.001", "--lora-r", "4", "--beta-first", "0.3", "--early-tokens", "3"])
    assert opts.overrides["lr"] == 0.001 and opts.overrides["lora_r"] == 4 and opts.overrides["epochs"] is None
    assert (opts.beta.first, opts.beta.early, opts.beta.rest, opts.beta.early_tokens) == (0.3, 2.0, 0.1, 3)


def test_hyper_options_are_the_presets_fields():
    # presets.Hyper is the resolved recipe; every field a flag can override is a HyperArguments option.
    recipe = {f.name for f in dataclasses.fields(Hyper)} - {"preset", "lora"}
    assert {f.name for f in dataclasses.fields(HyperArguments)} == recipe


def test_every_option_has_help():
    for group in OPTION_GROUPS:
        for f in dataclasses.fields(group):
            assert f.metadata.get("help"), f.name


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--lora-dropout", "1.5"], "--lora-dropout: 1.5: expected a number in [0, 1]"),
        (["--checkpointing", "-0.1"], "-0.1: expected a number in [0, 1]"),
        (["--block-size", "0"], "--block-size: 0: expected a positive integer"),
        (["--save-steps", "2.5"], "2.5: expected a positive integer"),
        (["--precision", "int8"], "invalid choice: 'int8'"),
        (["--preset", "half"], "invalid choice: 'half'"),
        (["--lr", "fast"], "--lr: invalid float value: 'fast'"),
        (["--warmup", "0.1"], "unrecognized argument: --warmup"),  # no abbreviations
        # The bounds that train.yaml's schema has (option_schema) hold on the command line too.
        (["--warmup-ratio", "1.5"], "--warmup-ratio: 1.5: expected a number in [0, 1]"),
        (["--lr", "0"], "--lr 0.0: expected a number > 0"),
        (["--weight-decay", "-0.1"], "--weight-decay -0.1: expected a number >= 0"),
        (["--seed", "-3"], "--seed -3: expected a number >= 0"),
        (["--max-steps", "0"], "--max-steps 0: expected a number >= 1"),
        (["--beta-rest", "0"], "--beta-rest 0.0: expected a number > 0"),
    ],
)
def test_bad_values_are_option_errors(flags, message):
    with pytest.raises(OptionError) as e:
        parse_train_args(REQUIRED + flags)
    assert message in str(e.value)


def test_an_options_default_is_allowed_outside_its_bounds():
    assert parse_train_args(REQUIRED + ["--max-steps", "-1"]).max_steps == -1  # -1: the epochs decide


def test_built_in_python_the_options_are_validated_too():
    with pytest.raises(OptionError, match=r"--lora-dropout 2: expected a number in \[0, 1\]"):
        TrainOptions(model="m", data="d", output_dir="o", lora_dropout=2)
    with pytest.raises(OptionError, match="--micro-batch-size 0: expected a positive integer"):
        TrainOptions(model="m", data="d", output_dir="o", micro_batch_size=0)


def test_missing_required_options_are_named():
    with pytest.raises(OptionError, match="required: --model, --data, --output_dir/--output-dir"):
        parse_train_args([])


def test_only_the_training_arguments_given_pass_through():
    opts = parse_train_args(
        REQUIRED
        + ["--adam_beta2", "0.95", "--optim", "adamw_torch_fused", "--report_to", "wandb"]
        + ["--lr_scheduler_kwargs", '{"min_lr": 1e-6}', "--no_remove_unused_columns", "--lr", "0.001"]
    )
    assert opts.training_args == {
        "adam_beta2": 0.95,
        "optim": "adamw_torch_fused",
        "report_to": "wandb",
        "lr_scheduler_kwargs": '{"min_lr": 1e-6}',
        "remove_unused_columns": False,
    }
    assert opts.lr == 0.001  # ours, not a pass-through field
    # A TrainingArguments field with the name of one of ours is ours.
    opts = parse_train_args(REQUIRED + ["--max_grad_norm", "0.3", "--save_steps", "7"])
    assert opts.max_grad_norm == 0.3 and opts.save_steps == 7 and opts.training_args == {}


@pytest.mark.parametrize("field,ours", sorted(owned_training_args().items()))
def test_training_arguments_that_an_option_sets_are_rejected(field, ours):
    with pytest.raises(OptionError) as e:
        parse_train_args(REQUIRED + [f"--{field}", "1"])
    assert f"--{field}: refusenik sets TrainingArguments.{field} from {ours}; use {ours} instead" in str(e.value)


def test_owned_fields_cover_what_train_py_derives():
    assert {"learning_rate", "lr_scheduler_type", "num_train_epochs", "per_device_train_batch_size"} <= set(
        owned_training_args()
    )
    assert {"gradient_accumulation_steps", "bf16", "fp16", "gradient_checkpointing"} <= set(owned_training_args())


def test_bad_training_argument_values_are_option_errors():
    with pytest.raises(OptionError, match="argument --optim: invalid choice: 'adamw_bogus'"):
        parse_train_args(REQUIRED + ["--optim", "adamw_bogus"])
    with pytest.raises(OptionError, match="--adam_beta2/--adam-beta2: invalid float value: .high."):
        parse_train_args(REQUIRED + ["--adam_beta2", "high"])


# ---- through `python -m refusenik_trainer train` ---------------------------------------------------------

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "2"}


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "refusenik_trainer", "train", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout)


def test_cli_unknown_flag_exits_2_naming_it(tmp_path):
    proc = cli(*REQUIRED, "--adam_beta2", "0.95", "--no-such-flag", "3", "--cpu")
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = json.loads(proc.stdout.splitlines()[-1])  # still an event, as for bad data
    assert err["event"] == "error" and err["kind"] == "input"
    assert "--no-such-flag" in err["message"] and "--adam_beta2" not in err["message"]
    assert "error: unrecognized argument: --no-such-flag" in proc.stderr


def test_cli_bad_value_exits_2():
    proc = cli(*REQUIRED, "--warmup-ratio", "0.1", "--lora-dropout", "7")
    assert proc.returncode == 2
    assert "7: expected a number in [0, 1]" in json.loads(proc.stdout.splitlines()[-1])["message"]


def test_cli_help_lists_the_flags_and_the_pass_through():
    proc = cli("--help", timeout=120)
    assert proc.returncode == 0
    for flag in ("--warmup-ratio", "--no-group-by-length", "--cpu", "--early-tokens", "--beta-early-tokens"):
        assert flag in proc.stdout
    assert "TrainingArguments field" in proc.stdout


def test_training_arguments_reach_the_trainer_over_the_preset(tiny_model_dir, data_dir, tmp_path):
    """A real run (1 step, CPU) with TrainingArguments flags: they are in the Trainer's arguments (saved with
    the checkpoint) and its optimizer, while the preset's values stay where TrainingArguments has defaults."""
    out = tmp_path / "out"
    proc = cli(
        "--model", str(tiny_model_dir), "--data", str(data_dir), "--output-dir", str(out), "--max-steps", "1",
        "--logging-steps", "1", "--cpu", "--micro-batch-size", "2", "--global-batch-size", "4",
        "--adam_beta2", "0.95", "--optim", "adamw_torch", "--adam_epsilon", "1e-6",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    start = events[0]
    assert start["training_args"] == {"adam_beta2": 0.95, "optim": "adamw_torch", "adam_epsilon": 1e-6}
    save = next(e for e in events if e["event"] == "save")

    checkpoint = Path(save["path"])
    args = torch.load(checkpoint / "training_args.bin", weights_only=False)
    assert args.adam_beta2 == 0.95 and args.adam_epsilon == 1e-6 and args.optim.value == "adamw_torch"
    # The full preset, not TrainingArguments' defaults (5e-5, linear, 0, 0, 3 epochs):
    assert args.learning_rate == 2e-5 and args.lr_scheduler_type.value == "cosine"
    assert args.warmup_ratio == 0.03 and args.weight_decay == 2e-5 and args.num_train_epochs == 2
    assert args.per_device_train_batch_size == 2 and args.gradient_accumulation_steps == 2
    assert args.adam_beta1 == 0.9 and args.report_to == [] and args.seed == 1  # untouched
    optimizer = torch.load(checkpoint / "optimizer.pt", weights_only=False)
    for group in optimizer["param_groups"]:
        assert tuple(group["betas"]) == (0.9, 0.95) and group["eps"] == 1e-6
        assert not group.get("fused")  # adamw_torch, not the default adamw_torch_fused
    assert start["hyper"]["lr"] == 2e-5 and start["hyper"]["scheduler"] == "cosine"


# ---- the schema that the TypeScript side reads (`options --json`, src/derta/trainer-options.ts) --------------


def test_the_schema_has_every_option_with_its_flag_type_default_and_help():
    schema = option_schema()
    names = [f.name for group in OPTION_GROUPS for f in dataclasses.fields(group)]
    assert list(schema["options"]) == names
    defaults = values(parse_train_args(REQUIRED))
    for name, o in schema["options"].items():
        assert o["flag"] == "--" + name.replace("_", "-") and o["help"]
        assert o["type"] in ("boolean", "integer", "number", "string")
        if name in ("model", "data", "output_dir"):
            assert "default" not in o  # required
        else:
            assert o["default"] == defaults[name]
        for flag in [o["flag"], *o["aliases"]]:
            assert flag in proc_help()
    assert {"minimum": 0, "maximum": 1}.items() <= schema["options"]["warmup_ratio"].items()
    assert schema["options"]["precision"]["choices"] == ["auto", "bf16", "fp16", "fp32"]
    assert schema["options"]["lr"]["sets"] == ["learning_rate"]


def test_the_presets_defaults_are_in_the_schema():
    schema = option_schema()
    for name, o in schema["options"].items():
        if name in {f.name for f in dataclasses.fields(HyperArguments)}:
            assert o["presets"] == {p: getattr(PRESETS[p], name) for p in PRESETS}
            assert o["default"] is None and "config_default" not in o
        else:
            assert "presets" not in o
    assert schema["presets"]["lora"]["block_size"] == 512 and schema["presets"]["full"]["block_size"] == 1024


def test_the_schema_says_where_train_yaml_sets_each_option():
    options = option_schema()["options"]
    where = {n: (o["section"], o["key"], o.get("config_default", "-")) for n, o in options.items()}
    assert where["lr"] == ("hyper", "lr", "-")
    assert where["beta_early_tokens"] == ("beta", "early_tokens", "-")
    assert where["seed"] == ("train", "seed", 1) and where["max_steps"] == ("train", "max_steps", "-")
    assert where["preset"] == ("train", "preset", "full") and where["model"] == ("launch", None, "-")
    assert where["use_cpu"] == (None, None, "-")
    for name, (section, key, _) in where.items():
        assert section in (None, "launch", "train", *CONFIG_SECTIONS), name
        if section in CONFIG_SECTIONS:
            assert CONFIG_SECTIONS[section]["prefix"] + key == name


def test_cli_options_json_prints_the_schema():
    proc = subprocess.run(
        [sys.executable, "-m", "refusenik_trainer", "options", "--json"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(json.dumps(option_schema()))
    text = subprocess.run([sys.executable, "-m", "refusenik_trainer", "options"], capture_output=True, text=True)
    assert "--warmup-ratio" in text.stdout and "hyper.warmup_ratio" in text.stdout


_HELP: list[str] = []


def proc_help() -> str:
    """`train --help` as the parser prints it (once)."""
    if not _HELP:
        from refusenik_trainer.options import build_train_parser

        _HELP.append(build_train_parser().format_help())
    return _HELP[0]
