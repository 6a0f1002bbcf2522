"""refusenik's DeRTa trainer: fine-tunes a causal LM on pretokenised rows written by `refusenik derta build`,
and serves the result over a minimal OpenAI-compatible HTTP API."""

__version__ = "0.1.0"
