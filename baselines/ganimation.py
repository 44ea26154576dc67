"""GANimation (Pumarola et al., ECCV 2018) as the authors' ``models/ganimation.py`` trains it.

Conditioned on the target's 17 AU intensities, divided by 5 inside the method (the suite's AUs
are on OpenFace's 0-5 scale). Per iteration: a critic update (WGAN critic + AU regression on
real images), a second, separate critic update with the gradient penalty alone (as the authors
do), and every ``n_critic``-th iteration a generator update on the same batch and targets:
adversarial + AU regression on the fake + L1 cycle + attention magnitude and smoothness.

Targets: the AUs of a random training image plus U(-0.1, 0.1) noise (on the /5 scale), drawn
from an AU bank of the whole training split built in ``setup`` (the authors' dataset draws a
random training sample too), not from the current batch.

Deviations from the authors' code, all recorded in ``metadata()``:
- Learning rate: constant for the first 20/30 of the run, then linear decay to 0, mapped from
  the authors' 20 + 10 epochs onto the run's steps and decayed every step (theirs: every epoch).
- The ``paper`` preset keeps their batch 25 and 30 epochs; on a RaFD-sized dataset that is far
  fewer iterations than on EmotioNet (~200k images), so a fair comparison may set ``train.epochs``.
- For the CPU presets the widths, residual blocks and critic depth are smaller (the critic has
  log2(size) - 1 layers unless set); at 128 px the ``paper`` preset is the authors' network.
- The generator's forward pass runs once per iteration, shared by the critic steps (detached, as
  theirs) and the generator step (they run G again with unchanged weights); the first critic
  update sees real and fake images in one call. Same values, less work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from baselines.ganimation_nets import Generator, compose, critic, smoothness
from baselines.stargan_nets import critic_depth
from eggan.core.config import RunConfig, base_preset
from eggan.core.gan import gradient_penalty, random_interpolate
from eggan.core.method import DataInfo, Method, adam, frozen
from eggan.core.schedules import linear_decay
from eggan.data.aus import AU_MAX
from eggan.data.dataset import Batch, FaceDataset, Target
from eggan.errors import ConfigError


@dataclass
class GANimationConfig:
    g_conv_dim: int = 64
    d_conv_dim: int = 64
    g_repeat_num: int = 6
    d_repeat_num: int | None = None  # None: log2(image_size) - 1, i.e. 6 at 128 as the authors'
    lambda_d_prob: float = 1.0
    lambda_d_cond: float = 4000.0
    lambda_cyc: float = 10.0
    lambda_mask: float = 0.1
    lambda_mask_smooth: float = 1e-5
    lambda_gp: float = 10.0
    n_critic: int = 5  # train_G_every_n_iterations
    target_noise: float = 0.1  # U(-noise, noise) added to the /5 target AUs
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    epochs_no_decay: int = 20  # the authors' schedule, mapped onto the run's steps
    epochs_decay: int = 10


class GANimation(Method):
    name = "ganimation"
    condition = "aus"
    Config = GANimationConfig

    def __init__(self, config: GANimationConfig, info: DataInfo, total_steps: int, device: torch.device) -> None:
        super().__init__(config, info, total_steps, device)
        if config.n_critic < 1:
            raise ConfigError("model.n_critic must be at least 1")
        depth = config.d_repeat_num or critic_depth(info.image_size)
        self.nets["G"] = Generator(config.g_conv_dim, info.n_aus, config.g_repeat_num)
        self.nets["D"] = critic(info.image_size, config.d_conv_dim, info.n_aus, depth)
        decay_start = total_steps * config.epochs_no_decay // (config.epochs_no_decay + config.epochs_decay)
        for name, net in self.nets.items():
            self.optimizers[name] = adam(net.parameters(), config.lr, (config.beta1, config.beta2))
            self.schedulers[name] = linear_decay(self.optimizers[name], total_steps, decay_start)
        self.au_bank: torch.Tensor | None = None

    @classmethod
    def preset(cls, name: str) -> RunConfig:
        data, train = base_preset(name)
        data.hflip = True  # the authors' random horizontal flip
        if name == "smoke":
            model = GANimationConfig(g_conv_dim=8, d_conv_dim=8, g_repeat_num=1)
        elif name in ("quick", "standard"):
            # StarGAN's CPU recipe (GANimation is StarGAN's generator with an attention mask):
            # one critic update per generator update and twice the authors' learning rate.
            model = GANimationConfig(g_conv_dim=32, d_conv_dim=32, g_repeat_num=3, n_critic=1, lr=2e-4)
            train.steps = 1000 if name == "quick" else 5000
        else:
            model = GANimationConfig()
            train.batch_size, train.epochs = 25, model.epochs_no_decay + model.epochs_decay
        return RunConfig(cls.name, name, data, train, model)

    def setup(self, train: FaceDataset, log: Callable[[str], None] = lambda _msg: None) -> None:
        """The AU bank targets are drawn from: every training image's AUs, on the /5 scale."""
        self.au_bank = (train.aus / AU_MAX).to(self.device)

    def sample_targets(self, n: int) -> torch.Tensor:
        if self.au_bank is None:
            raise ConfigError("GANimation.setup(train) must run before training (it builds the AU bank)")
        pick = torch.randint(len(self.au_bank), (n,), device=self.au_bank.device)
        noise = (torch.rand(n, self.info.n_aus, device=self.au_bank.device) * 2 - 1) * self.config.target_noise
        return self.au_bank[pick] + noise

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        c = self.config
        x, y_real = batch.image, batch.aus / AU_MAX
        y_trg = self.sample_targets(len(batch)).to(x.device)
        n = len(batch)

        # G runs once: its detached output is both critics' fake and, with its graph kept, the
        # generator step's fake (G does not change in between; the authors run it again).
        generator_due = (step + 1) % c.n_critic == 0
        with torch.set_grad_enabled(generator_due):
            colour, mask = (self.ddp("G") if generator_due else self.nets["G"])(x, y_trg)
            fake_graph = compose(x, colour, mask)
        fake = fake_graph.detach()
        D = self.ddp("D")
        src, cond = D(torch.cat([x, fake]))  # one call on real and fake (no batch statistics in D)
        d_real = -src[:n].mean() * c.lambda_d_prob
        d_cond = F.mse_loss(cond[:n], y_real) / n * c.lambda_d_cond
        d_fake = src[n:].mean() * c.lambda_d_prob
        self.optimizers["D"].zero_grad(set_to_none=True)
        (d_real + d_cond + d_fake).backward()
        self.optimizers["D"].step()

        mixed = random_interpolate(x, fake)
        src_mixed, cond_mixed = D(mixed)
        d_gp = gradient_penalty(src_mixed, mixed) * c.lambda_gp
        self.optimizers["D"].zero_grad(set_to_none=True)
        # The AU head gets a zero gradient, as in the authors' (torch 0.3) zero_grad: Adam still
        # moves it by its momentum; keeping it in the graph also keeps DDP's reducer complete.
        (d_gp + 0 * cond_mixed.sum()).backward()
        self.optimizers["D"].step()
        losses = {"d_real": d_real, "d_fake": d_fake, "d_cond": d_cond, "d_gp": d_gp}

        if generator_due:
            G, D_net = self.ddp("G"), self.nets["D"]
            with frozen(D_net):
                fake = fake_graph
                src_fake, cond_fake = D_net(fake)
                g_fake = -src_fake.mean() * c.lambda_d_prob
                g_cond = F.mse_loss(cond_fake, y_trg) / n * c.lambda_d_cond
                rec_colour, rec_mask = G(fake, y_real)
                g_cyc = F.l1_loss(compose(fake, rec_colour, rec_mask), x)
                g_mask = (mask.mean() + rec_mask.mean()) * c.lambda_mask
                g_smooth = (smoothness(mask) + smoothness(rec_mask)) * c.lambda_mask_smooth
                g_loss = g_fake + g_cond + c.lambda_cyc * g_cyc + g_mask + g_smooth
                self.optimizers["G"].zero_grad(set_to_none=True)
                g_loss.backward()
                self.optimizers["G"].step()
            losses.update(g_fake=g_fake, g_cond=g_cond, g_cyc=g_cyc, g_mask=g_mask, g_smooth=g_smooth)
        return {name: value.detach() for name, value in losses.items()}

    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        return compose(source, *self.nets["G"](source, target.aus / AU_MAX))

    def metadata(self) -> dict[str, Any]:
        c = self.config
        return {
            **super().metadata(),
            "config": asdict(c),
            "au_scale": f"AUs divided by {AU_MAX} inside the method",
            "target_sampling": f"AUs of a random training image (AU bank from setup) + U(-{c.target_noise}, "
            f"{c.target_noise}) on the /5 scale",
            "lr_schedule": f"constant for {c.epochs_no_decay}/{c.epochs_no_decay + c.epochs_decay} of the steps, "
            "then linear decay to 0 (per step)",
            "critic_updates": "two per iteration: losses, then the gradient penalty alone",
            "critic_layers": c.d_repeat_num or critic_depth(self.info.image_size),
            "deviations": [
                "learning rate decayed per step over the last third (the authors: per epoch, 10 of 30 epochs)",
                "widths, residual blocks and critic depth set by the config (the authors' at 128 px in 'paper')",
                "one generator forward per iteration, shared by the critic and generator steps (same values)",
                *([f"n_critic = {self.config.n_critic} (the authors: 5)"] if self.config.n_critic != 5 else []),
                *([f"lr = {self.config.lr:g} (the authors: 1e-4)"] if self.config.lr != 1e-4 else []),
            ],
        }
