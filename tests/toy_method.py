"""A two-network conditional GAN with a gradient penalty: the smallest Method that exercises
everything the shared training loop does (several optimisers, schedulers, n_critic, GP, DDP)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from eggan.core.config import RunConfig, base_preset
from eggan.core.method import Method, set_requires_grad
from eggan.core.schedules import linear_decay
from eggan.data.dataset import Batch, Target


@dataclass
class ToyConfig:
    width: int = 8
    lr: float = 1e-3
    n_critic: int = 2
    lambda_gp: float = 1.0
    lambda_rec: float = 10.0


class ToyMethod(Method):
    name = "toy"
    condition = "aus"
    Config = ToyConfig

    def __init__(self, config: ToyConfig, info, total_steps, device) -> None:
        super().__init__(config, info, total_steps, device)
        w = config.width
        self.nets["G"] = nn.Sequential(
            nn.Conv2d(3 + info.n_aus, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, 3, 3, padding=1), nn.Tanh()
        )
        self.nets["D"] = nn.Sequential(nn.Conv2d(3, w, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(w, 1, 4, 2, 1))
        for name, net in self.nets.items():
            self.optimizers[name] = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(0.5, 0.999))
            self.schedulers[name] = linear_decay(self.optimizers[name], total_steps, total_steps // 2)

    @classmethod
    def preset(cls, name: str) -> RunConfig:
        data, train = base_preset(name)
        return RunConfig("toy", name, data, train, ToyConfig())

    def _g(self, net: nn.Module, image: torch.Tensor, aus: torch.Tensor) -> torch.Tensor:
        planes = (aus / 5)[:, :, None, None].expand(-1, -1, *image.shape[-2:])
        return net(torch.cat([image, planes], 1))

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        c = self.config
        target = batch.aus[torch.randperm(len(batch), device=batch.aus.device)]
        fake = self._g(self.nets["G"], batch.image, target).detach()
        alpha = torch.rand(len(batch), 1, 1, 1, device=fake.device)
        mixed = (alpha * batch.image + (1 - alpha) * fake).requires_grad_(True)
        d = self.ddp("D")
        grad = torch.autograd.grad(d(mixed).sum(), mixed, create_graph=True)[0]
        gp = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
        d_loss = d(fake).mean() - d(batch.image).mean() + c.lambda_gp * gp
        self.optimizers["D"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizers["D"].step()
        losses = {"d": d_loss.detach(), "gp": gp.detach()}
        if step % c.n_critic == 0:
            set_requires_grad(self.nets["D"], False)
            g = self.ddp("G")
            fake = self._g(g, batch.image, target)
            rec = self._g(g, batch.image, batch.aus)
            rec_loss = F.l1_loss(rec, batch.image)
            g_loss = -self.nets["D"](fake).mean() + c.lambda_rec * rec_loss
            self.optimizers["G"].zero_grad(set_to_none=True)
            g_loss.backward()
            self.optimizers["G"].step()
            set_requires_grad(self.nets["D"], True)
            losses.update(g=g_loss.detach(), rec=rec_loss.detach())
        return losses

    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        return self._g(self.nets["G"], source, target.aus)
