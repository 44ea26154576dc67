"""The data section of a run's config: which dataset, at which size, and how SynthFACS is rendered.

It lives with the data layer so that readers and renderers check sizes without importing the
suite's core; ``eggan.core.config.RunConfig`` holds a ``DataConfig`` as its ``data`` section.
"""

from __future__ import annotations

from dataclasses import dataclass, field

IMAGE_SIZES: tuple[int, ...] = (32, 64, 128, 256)


@dataclass
class SynthConfig:
    """How SynthFACS is rendered when a run asks for ``--data synthfacs``."""

    identities: int = 80  # split into train and test
    test_identities: int = 16
    # More people, rendered only for the in-domain evaluators to learn from (the "evaluator" split).
    evaluator_identities: int = 64
    variants: int = 6  # images per identity and expression
    seed: int = 0


@dataclass
class DataConfig:
    source: str = "synthfacs"  # 'synthfacs' or a folder with an index.csv
    image_size: int = 64
    synth: SynthConfig = field(default_factory=SynthConfig)
    hflip: bool = False  # random horizontal flips in training (StarGAN and GANimation use them)
