"""The training objectives, one module each, selected by `train --objective <name>` (train.yaml `objective:`).

A new objective is a module here with an `Objective` subclass (objective.py: its name and help, its options
and their train.yaml section, what it rules out, its loss) and one entry below; then regenerate
src/derta/trainer-options.ts (`node scripts/trainer-options.mjs`), which gives train.yaml and the loop its name
and options. Standard library only at import.
"""

from .constrained import CONSTRAINED
from .mle import MLE
from .objective import LossFn, Objective

OBJECTIVES: dict[str, Objective] = {o.name: o for o in (MLE, CONSTRAINED)}

__all__ = ["OBJECTIVES", "LossFn", "Objective"]
