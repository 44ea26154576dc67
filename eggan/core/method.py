"""The one interface that EGGAN and every baseline implement (their names: ``eggan.core.registry``).

A method owns its networks, optimisers and schedulers and knows how to do one training
iteration (all of its phases: critic steps, generator step, ...) and how to translate a batch
of sources to a batch of targets. Everything else (data order, checkpoints, resume, DDP,
logging, sample grids) is the shared training loop's business (`eggan.core.train`), and evaluation
sees a method only through `translate`.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from eggan.core.config import RunConfig
from eggan.data.aus import AU_COLUMNS, N_AUS, N_EXPRESSIONS
from eggan.data.dataset import Batch, FaceDataset, Target
from eggan.errors import ConfigError

Condition = Literal["aus", "expression", "image"]
EMA_RAMPUP = 0.05  # stylegan2-ada: the EMA's half-life is at most 5 % of the training so far

@dataclass(frozen=True)
class DataInfo:
    """What a method needs to know about its training data to build its networks.

    ``coded_aus`` are the AU columns the dataset codes (all 17 on SynthFACS and OpenFace-labelled
    data, 12 on DISFA): a method is conditioned on those only, ``n_aus`` of them, in that order."""

    image_size: int
    n_identities: int  # training identities (C_id's classes)
    n_aus: int = N_AUS
    n_expressions: int = N_EXPRESSIONS
    coded_aus: tuple[str, ...] = AU_COLUMNS

    def __post_init__(self) -> None:
        object.__setattr__(self, "coded_aus", tuple(self.coded_aus))  # a list when read back from a checkpoint
        if self.n_aus != len(self.coded_aus):
            raise ConfigError(f"n_aus {self.n_aus} does not match the {len(self.coded_aus)} coded AUs")

    @classmethod
    def of(cls, image_size: int, train: FaceDataset) -> DataInfo:
        """What a training split tells its method: size, identities and the AUs it codes."""
        return cls(image_size=image_size, n_identities=len(train.identities), n_aus=len(train.coded_aus),
                   coded_aus=train.coded_aus)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "coded_aus": list(self.coded_aus)}


class Method(ABC):
    """Base class: networks in ``self.nets``, optimisers and schedulers in dicts keyed by name.

    Subclasses set ``name``, ``condition`` (what ``translate`` reads from a ``Target``) and
    ``Config`` (their dataclass), build everything in ``__init__``, and implement ``train_step``
    and ``generate``. In ``train_step``, call a network through ``self.ddp(name)`` when the
    backward pass feeds that network's own optimiser step (so DDP averages its gradients), and
    through ``self.nets[name]`` when it is only used (a frozen critic in the generator step).
    """

    name: ClassVar[str]
    condition: ClassVar[Condition]
    Config: ClassVar[type]

    def __init__(self, config: Any, info: DataInfo, total_steps: int, device: torch.device) -> None:
        self.config = config
        self.info = info
        self.total_steps = total_steps
        self.device = device
        self.nets = nn.ModuleDict()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self._wrapped: dict[str, nn.Module] = {}
        self.ema_half_life = 0.0  # iterations; > 0 once ``keep_ema`` is called

    # --- presets -------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def preset(cls, name: str) -> RunConfig:
        """The full run config of preset ``name`` (smoke, quick, standard, paper) for this method."""

    @classmethod
    def check_requirements(cls, config: RunConfig) -> None:
        """Raise ``MissingComponentError`` if ``config`` needs something absent here (e.g. VGG19
        weights), so a benchmark fails before any training starts rather than hours into it."""

    # --- training ------------------------------------------------------------------------
    def setup(self, train: FaceDataset, log: Callable[[str], None] = lambda _msg: None) -> None:
        """Called on every start, fresh or resumed, with the training split (e.g. an AU bank);
        ``log`` is the run's, for anything this builds that takes time (a network trained here)."""

    def pretrain(self, train: FaceDataset, log: Callable[[str], None]) -> None:
        """A stage that runs once before step 0 on a fresh start (C_id, a decoder, ...)."""

    @abstractmethod
    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """One iteration (every phase due at ``step``); returns detached scalar losses by name."""

    def ddp(self, name: str) -> nn.Module:
        """The DDP-wrapped network when training is distributed, else the network itself."""
        return self._wrapped.get(name, self.nets[name])

    def distribute(self, wrap: Callable[[nn.Module], nn.Module]) -> None:
        """Wrap every network that has an optimiser (one DDP wrapper per network)."""
        self._wrapped = {name: wrap(self.nets[name]) for name in self.optimizers}

    # --- exponential moving averages (stylegan2-ada's G_ema) ---------------------------------
    def keep_ema(self, names: Iterable[str], half_life: float) -> None:
        """Keep a moving average of the networks ``names`` as ``<name>_ema`` in ``self.nets``: saved,
        loaded and moved with them, never optimised, and read by ``generate`` through ``inference``.

        The average's half-life is ``half_life`` iterations, ramped up early in training as
        stylegan2-ada's ``ema_rampup``: min(half_life, EMA_RAMPUP x the iterations so far)."""
        self.ema_half_life = half_life
        for name in names:
            self.nets[f"{name}_ema"] = copy.deepcopy(self.nets[name]).requires_grad_(False)

    @torch.no_grad()
    def update_ema(self, step: int) -> None:
        """Move every ``<name>_ema`` towards its network after iteration ``step``'s update; buffers
        (BatchNorm statistics) are copied, as stylegan2-ada does."""
        half_life = min(self.ema_half_life, EMA_RAMPUP * (step + 1))
        beta = 0.5 ** (1.0 / max(half_life, 1e-8))
        for name in self.ema_names():
            average, live = self.nets[f"{name}_ema"], self.nets[name]
            for p_avg, p in zip(average.parameters(), live.parameters(), strict=True):
                p_avg.lerp_(p, 1.0 - beta)
            for b_avg, b in zip(average.buffers(), live.buffers(), strict=True):
                b_avg.copy_(b)

    def ema_names(self) -> list[str]:
        return [name.removesuffix("_ema") for name in self.nets if name.endswith("_ema")]

    def inference(self, name: str) -> nn.Module:
        """The network ``generate`` uses: its moving average when the method keeps one."""
        return self.nets[f"{name}_ema"] if f"{name}_ema" in self.nets else self.nets[name]

    # --- inference -----------------------------------------------------------------------
    @abstractmethod
    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        """Translate ``source`` (B x 3 x H x W in [-1, 1]) to ``target``; called under no_grad."""

    def translate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        """Images in [-1, 1] showing each source with its target; checks the target has our field."""
        if getattr(target, self.condition) is None:
            raise ConfigError(f"{self.name} is conditioned on the target's {self.condition}, which was not given")
        size = self.info.image_size
        if source.shape[-2:] != (size, size):
            raise ConfigError(f"{self.name} was trained at {size}x{size}, got images of {tuple(source.shape[-2:])}")
        with eval_mode(*self.nets.values()), torch.no_grad():
            out = self.generate(source.to(self.device), target.to(self.device))
        return out.clamp(-1, 1)

    # --- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": {name: net.state_dict() for name, net in self.nets.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "schedulers": {name: s.state_dict() for name, s in self.schedulers.items()},
        }

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        """Load networks (strictly); optimisers and schedulers too unless ``weights_only``."""
        for name, net in self.nets.items():
            net.load_state_dict(state["nets"][name])
        if not weights_only:
            for name, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            for name, sched in self.schedulers.items():
                sched.load_state_dict(state["schedulers"][name])

    def metadata(self) -> dict[str, Any]:
        """Facts a table must carry (loss terms on, substituted weights, ...); extended by methods."""
        return {
            "method": self.name,
            "condition": self.condition,
            "parameters": {name: count_parameters(net) for name, net in self.nets.items()},
        }


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Eval mode for the duration (BatchNorm reads its running statistics, dropout is off), then
    each module's previous mode again: for translating, and for a critic used as a fixed judge."""
    modes = [module.training for module in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, mode in zip(modules, modes, strict=True):
            module.train(mode)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def adam(params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
    """Adam as every trainer of the suite builds it: PyTorch's fused kernel, one pass over all
    parameters instead of a loop of small per-tensor operations. The update rule is Adam's; on a
    2-core CPU the optimiser step is about 3x faster (tests/benchmarks/test_bench_speedups.py)."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    """Freeze or unfreeze a network for good (a pre-trained judge, a frozen teacher)."""
    for p in module.parameters():
        p.requires_grad_(flag)


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """The networks' parameters take no gradient for the duration, then train again: the critics
    of a generator step, which the generator's backward pass must go through but not update."""
    for module in modules:
        set_requires_grad(module, False)
    try:
        yield
    finally:
        for module in modules:
            set_requires_grad(module, True)
