"""eggan-bench: EGGAN (Tang, Shao, Ma, ICME 2020) and its baselines on one evaluation protocol."""

__version__ = "0.1.0"
