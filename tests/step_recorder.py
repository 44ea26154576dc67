"""What one training step computed, recorded so a test can recompute every loss term by hand.

``record(method)`` hooks every network of a method and every optimiser:
- each forward call of a network (its inputs and outputs, detached copies), in call order;
- each optimiser step: the gradients it is about to apply, and a copy of every network as it is
  at that moment, i.e. as the losses of that phase saw it (a phase's networks change only when
  its optimisers step, after its single backward pass).

A step-semantics test then writes each loss of the paper by hand on the recorded inputs with the
recorded copies, differentiates it, and compares the gradients with the ones the method applied:
a term on the wrong tensor, with the wrong sign, weight or target, gives other gradients.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from eggan.core.method import Method


@dataclass
class Call:
    net: str
    args: tuple[Any, ...]
    output: Any


@dataclass
class Update:
    optimizer: str
    grads: list[torch.Tensor | None]  # one per parameter, in the optimiser's order
    nets: dict[str, nn.Module]  # every network as it was when the optimiser stepped


@dataclass
class Record:
    calls: list[Call] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)

    def of(self, net: str) -> list[Call]:
        """The forward calls of ``net``, in order."""
        return [call for call in self.calls if call.net == net]

    def update(self, optimizer: str, index: int = 0) -> Update:
        """The ``index``-th step of ``optimizer`` (a failure says which optimisers stepped)."""
        steps = [u for u in self.updates if u.optimizer == optimizer]
        assert len(steps) > index, f"{optimizer} stepped {len(steps)} times; the steps: {self.stepped()}"
        return steps[index]

    def stepped(self) -> list[str]:
        return [u.optimizer for u in self.updates]


def _detached(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple | list):
        return type(value)(_detached(v) for v in value)
    return value


def _snapshot(nets: nn.ModuleDict) -> dict[str, nn.Module]:
    """Copies of the networks without this recorder's hooks (running them records nothing)."""
    out = {}
    for name, net in nets.items():
        clone = copy.deepcopy(net)
        for module in clone.modules():
            module._forward_hooks.clear()
        out[name] = clone
    return out


@contextmanager
def record(method: Method, snapshots: bool = True) -> Iterator[Record]:
    """Record the forward calls and optimiser steps of ``method`` for the duration (without copies
    of the networks when ``snapshots`` is false: which optimisers stepped is then all that is kept)."""
    log = Record()
    handles = []
    for name, net in method.nets.items():
        def hook(_module: nn.Module, args: tuple[Any, ...], output: Any, name: str = name) -> None:
            log.calls.append(Call(name, _detached(args), _detached(output)))

        handles.append(net.register_forward_hook(hook))
    for name, optimizer in method.optimizers.items():
        def before_step(opt: torch.optim.Optimizer, _args: Any, _kwargs: Any, name: str = name) -> None:
            grads = [None if p.grad is None else p.grad.detach().clone()
                     for group in opt.param_groups for p in group["params"]]
            log.updates.append(Update(name, grads, _snapshot(method.nets) if snapshots else {}))

        handles.append(optimizer.register_step_pre_hook(before_step))
    try:
        yield log
    finally:
        for handle in handles:
            handle.remove()


def gradients(loss: torch.Tensor, net: nn.Module) -> list[torch.Tensor]:
    """d loss / d parameters of ``net`` (zeros where the loss does not reach a parameter)."""
    params = list(net.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


def assert_same_gradients(applied: Sequence[torch.Tensor | None], expected: Sequence[torch.Tensor], what: str,
                          tolerance: float = 1e-4) -> None:
    """The gradients an optimiser applied equal the hand-written loss's, parameter by parameter, up to
    float32 rounding: ``tolerance`` relative, or of the network's largest gradient (a parameter whose
    gradient cancels to zero, such as a bias before InstanceNorm, keeps rounding noise of that size)."""
    assert len(applied) == len(expected), what
    scale = max(float(e.abs().max()) for e in expected)
    assert scale > 0, f"{what}: the hand-written loss does not reach these parameters"
    for i, (a, e) in enumerate(zip(applied, expected, strict=True)):
        a = torch.zeros_like(e) if a is None else a
        assert torch.allclose(a, e, rtol=10 * tolerance, atol=tolerance * scale), (
            f"{what}: parameter {i} got another gradient (max difference {float((a - e).abs().max()):.3g}, "
            f"largest gradient {scale:.3g})")


def on_segment(mixed: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The per-sample t with ``mixed = t a + (1 - t) b``, checked to fit exactly (a random interpolate)."""
    d = (a - b).flatten(1)
    t = ((mixed - b).flatten(1) * d).sum(1) / (d * d).sum(1)
    fitted = t.view(-1, *[1] * (a.dim() - 1)) * a + (1 - t.view(-1, *[1] * (a.dim() - 1))) * b
    assert torch.allclose(fitted, mixed, atol=1e-5), "the mixed input is not on the segment between the two"
    return t


def penalty(critic: Callable[[torch.Tensor], torch.Tensor], mixed: torch.Tensor) -> torch.Tensor:
    """Gulrajani et al.'s penalty written out: mean over samples of (||d sum D(x^) / d x^_i||_2 - 1)^2."""
    point = mixed.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(point).sum(), point, create_graph=True)
    return ((grad.flatten(1) ** 2).sum(1).sqrt() - 1).pow(2).mean()
