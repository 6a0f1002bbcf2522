"""The machinery of an option field, apart from options.py so that the modules that declare options of their
own (the objectives, objectives/) can use it while options.py gathers them: `opt()` declares one option as a
dataclass field, `Fraction` / `PositiveInt` check their values, `Checked` validates a group however it is built.
Standard library only: `options --json` runs without torch.
"""

import argparse
import dataclasses
import types
import typing
from dataclasses import field
from typing import Any, Optional

# Metadata keys of ours, taken out before HfArgumentParser hands the rest to argparse.add_argument.
SETS = "sets"  # the TrainingArguments fields an option sets under another name
SECTION = "section"  # where train.yaml sets it (overrides the group's `_section`; see options.CONFIG_SECTIONS)
CONFIG_DEFAULT = "config_default"  # False: train.yaml shows no default (left out, the trainer's applies)
BOUNDS = ("minimum", "exclusive_minimum", "maximum")  # checked here, and train.yaml's schema has them
OURS = (SETS, SECTION, CONFIG_DEFAULT, *BOUNDS)


class OptionError(ValueError):
    """A bad or impossible combination of options (exit status 2, like bad data)."""


class Fraction(float):
    """A float in [0, 1] (also argparse's type for the flag)."""

    bounds = {"minimum": 0, "maximum": 1}

    def __new__(cls, value: Any) -> "Fraction":
        try:
            number = float.__new__(cls, value)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{value}: expected a number in [0, 1]") from None
        if not 0.0 <= number <= 1.0:
            raise argparse.ArgumentTypeError(f"{value}: expected a number in [0, 1]")
        return number


class PositiveInt(int):
    """An integer >= 1 (also argparse's type for the flag)."""

    bounds = {"minimum": 1}

    def __new__(cls, value: Any) -> "PositiveInt":
        if isinstance(value, float) and not value.is_integer():
            raise argparse.ArgumentTypeError(f"{value}: expected a positive integer")
        try:
            number = int.__new__(cls, value)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{value}: expected a positive integer") from None
        if number < 1:
            raise argparse.ArgumentTypeError(f"{value}: expected a positive integer")
        return number


_CHECKED = (Fraction, PositiveInt)


def opt(default: Any = dataclasses.MISSING, help: str = "", **metadata: Any) -> Any:  # noqa: A002
    """A dataclass field for one option: its default (none: required), help text and argparse extras
    (`choices`, `aliases`); `sets=[...]`, the TrainingArguments fields it sets under another name; bounds
    (`minimum`, `exclusive_minimum`, `maximum`: any value but the default must keep them); `section`, where
    train.yaml sets it, when not the group's; `config_default=False`: train.yaml shows no default."""
    return field(default=default, metadata={"help": help, **metadata})


def _checked_type(tp: Any) -> Any:
    """Fraction / PositiveInt behind an annotation (Optional[...] included), else None."""
    if tp in _CHECKED:
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg in _CHECKED:
                return arg
    return None


def bounds_of(f: dataclasses.Field) -> dict[str, float]:
    """The field's bounds given in its metadata (a Fraction / PositiveInt type checks its own)."""
    return {k: f.metadata[k] for k in BOUNDS if k in f.metadata}


def _out_of_bounds(value: float, bounds: dict[str, float]) -> Optional[str]:
    """What a value out of its bounds should have been, else None."""
    low, above, high = (bounds.get(k) for k in BOUNDS)
    if (
        (low is not None and value < low)
        or (above is not None and value <= above)
        or (high is not None and value > high)
    ):
        parts = [f">= {low}" if low is not None else "", f"> {above}" if above is not None else ""]
        parts.append(f"<= {high}" if high is not None else "")
        return "expected a number " + " and ".join(p for p in parts if p)
    return None


class Checked:
    """Validates Fraction / PositiveInt fields and the fields' bounds however the dataclass is built (flags or
    Python); a field's own default is always allowed (max_steps' -1)."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            checked = _checked_type(hints.get(f.name))
            value = getattr(self, f.name)
            if value is None or (checked is None and not bounds_of(f)):
                continue
            if isinstance(value, bool):
                raise OptionError(f"--{flag_name(f.name)} {value}: expected a number")
            if checked is not None and not isinstance(value, checked):
                try:
                    setattr(self, f.name, checked(value))
                except (argparse.ArgumentTypeError, TypeError, ValueError) as e:
                    raise OptionError(f"--{flag_name(f.name)} {e}") from None
            if value != f.default and (wrong := _out_of_bounds(value, bounds_of(f))):
                raise OptionError(f"--{flag_name(f.name)} {value}: {wrong}")


def flag_name(name: str) -> str:
    return name.replace("_", "-")
