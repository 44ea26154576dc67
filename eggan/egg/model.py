"""EGGAN (Tang, Shao, Ma, ICME 2020) as a ``Method``: networks + loss terms -> training phases.

One iteration has three phases, each with its own optimisers:
1. image critic D_img (WGAN-GP, Eq. 2) and the expression classifier C_exp on real images (Eq. 3);
2. latent discriminator D_z: prior samples z ~ N(0, I) against codes E(I) (Eq. 1);
3. encoder E and generator G: the edit I_t = G(E(I_s) | u_t) towards a random training AU vector
   and the reconstruction I_s' = G(E(I_s) | u_s), with the remaining terms of Eq. 7.
The authors' variant (``variant="official"``) changes only configured pieces (eggan.egg.variants).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch

from eggan.core.config import RunConfig, base_preset
from eggan.core.facetrunk import face_trunk
from eggan.core.gan import gradient_penalty, random_interpolate
from eggan.core.imageops import random_blur, random_noise
from eggan.core.method import DataInfo, Method, adam, eval_mode, frozen, set_requires_grad
from eggan.core.schedules import epochwise_linear_decay, linear_decay
from eggan.core.vgg import require_weights
from eggan.core.warmup import fit_classifier
from eggan.data.dataset import Batch, FaceDataset, Target
from eggan.egg import losses as L
from eggan.egg.msssim import settings_for
from eggan.egg.nets import build_networks
from eggan.egg.perceptual import Perceptual, build_perceptual
from eggan.egg.variants import EggANConfig, differences, resolve

OPTIMISED = ("encoder", "generator", "critic", "latent_d", "c_exp")


class EggAN(Method):
    name: ClassVar[str] = "eggan"
    condition = "aus"
    Config: ClassVar[type] = EggANConfig

    def __init__(self, config: EggANConfig, info: DataInfo, total_steps: int, device: torch.device) -> None:
        super().__init__(config, info, total_steps, device)
        self.cfg = c = resolve(config)
        nets = build_networks(c.architecture, info.image_size, c.latent_size, info.n_aus, info.n_identities,
                              c.width, c.classifier_depth, identity=not c.no_identity, norm=c.norm,
                              critic_width=c.critic_width, latent_grid=c.latent_grid,
                              coder_width=c.coder_width, critic_condition=c.critic_condition == "projection",
                              au_every_block=c.au_injection == "every-block")
        self.nets.update(nets)
        self.nets.to(device)
        if "c_id" in self.nets:
            set_requires_grad(self.nets["c_id"], False)  # trained only in ``pretrain``
        self.msssim = None if c.no_msssim else settings_for(info.image_size, c.msssim)
        self.phi: Perceptual | None = None  # built in ``setup``: only training needs VGG19
        self.vgg_status: dict[str, Any] | None = None  # which VGG19 trained this model (kept in checkpoints)
        self.au_bank: torch.Tensor | None = None
        self.cid_accuracy: float | None = None
        self.cexp_accuracy: float | None = None
        for name in OPTIMISED:
            lr, betas = (c.lr_exp, c.betas_exp) if name == "c_exp" else (c.lr, c.betas)
            self.optimizers[name] = adam(self.nets[name].parameters(), lr, betas)
            self.schedulers[name] = self._schedule(self.optimizers[name], total_steps, c.schedule_epochs)
        if c.ema_half_life > 0:
            self.keep_ema(("encoder", "generator"), c.ema_half_life)

    def _schedule(
        self, optimizer: torch.optim.Optimizer, steps: int, epochs: int
    ) -> torch.optim.lr_scheduler.LRScheduler:
        """The variant's decay after ``decay_start`` of a run of ``steps`` (the authors': per epoch)."""
        c = self.cfg
        if c.lr_schedule == "epochwise":
            return epochwise_linear_decay(optimizer, steps, epochs, round(epochs * c.decay_start))
        return linear_decay(optimizer, steps, round(steps * c.decay_start))

    # --- presets -------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str) -> RunConfig:
        """smoke: 32 px, tiny nets, seconds on a CPU; quick / standard: the CPU recipe below for
        about 9-17 / 40-55 minutes on 2 idle cores, by machine; paper: 128 px and the published settings (400 epochs,
        batch 8, VGG19 ImageNet weights). docs/eggan-variants.md ("Presets") has the measurements."""
        data, train = base_preset(name)
        if name == "paper":
            return RunConfig(method=cls.name, preset=name, data=data, train=train, model=EggANConfig())
        if name == "smoke":
            model = EggANConfig(width=0.125, latent_size=32, classifier_depth=(1, 1, 1, 1, 1), cid_epochs=1, lr=4e-4,
                                lr_exp=4e-4, classifier_weight_scale=0.1, allow_random_vgg=True)
            return RunConfig(method=cls.name, preset=name, data=data, train=train, model=model)
        # The CPU recipe, each departure from the paper a named setting:
        # - thin networks: one conv per classifier block, a critic at width 0.25 and a random
        #   perceptual trunk at width 0.25 (with the rest at 0.5, a third of the paper-shaped step's cost);
        # - BatchNorm in E and G: instance statistics over the 2x2 and 4x4 maps of G's first blocks
        #   are noise; with BatchNorm reconstructions of unseen people were sharper (L1 0.16 vs
        #   0.19 at 2,000 steps) and verification rose from 75 to 98.5 %;
        # - 10x the paper's E/G/D learning rate (5x C_exp's) at batch 32; C_id pre-trained 8 epochs
        #   (2 reached 39 % accuracy on 368 people); the classifier terms at 0.3 of the paper's
        #   weights (at 1 the edits' AUs read worse: Avg MSE 0.26 vs 0.18 of the Source row);
        # - against the ideal renders (docs/eggan-variants.md, "Presets"; 1,600 steps): an 8x8 latent
        #   grid of 8 channels (reconstruction 20.2 -> 23.2 dB), moving averages of E and G and C_exp
        #   reading through a blur of up to 1 px (edit score -0.00 -> 0.08), the perceptual weight at
        #   5 and the identity weight at 10 (x 0.3): edit score 0.12, reconstruction 24.1 dB;
        # - E and G at width 1 (`coder_width`; the 8x8 grid left them 8-32 channels) and the
        #   encoder's pull towards the N(0, I) prior at 0.1 (`lambda_z`; it outweighed L1 all run
        #   long): edit score 0.113 -> 0.131, reconstruction 23.9 -> 26.2 dB on the 1,392 pairs,
        #   for about 1.5 more minutes of training (width 2: 0.35 dB more for 8 more minutes);
        # - C_exp and C_id at width 1 too (`width`, which now covers E and G) and a projection
        #   critic that judges (image, AUs) pairs (`critic_condition`): edit score 0.131 -> 0.150
        #   (row z6), about 2 more minutes.
        model = EggANConfig(width=1.0, latent_size=512, latent_grid=8, classifier_depth=(1, 1, 1, 1, 1), cid_epochs=8,
                            lr=1e-3, lr_exp=1e-3, classifier_weight_scale=0.3, allow_random_vgg=True,
                            perceptual_width=0.25, critic_width=0.25, norm="batch", ema_half_life=100, exp_blur=1.0,
                            lambda_per=5.0, lambda_id=10.0, lambda_z=0.1, critic_condition="projection")
        # - `quick` only: the learning rate held for all 1,600 iterations (`decay_start=1`; the
        #   paper decays it over the second half): edit score 0.150 -> 0.175, reconstruction 26.3 ->
        #   26.5 dB (row d1); the moving averages of E and G already smooth the last iterations;
        # - `standard` only: C_exp stops learning at iteration 2,000 (`cexp_freeze_at`); left to
        #   learn it memorised the training faces and the edits declined from iteration 2,100 on;
        # - `standard` only: E and G at width 2 (`coder_width`, four times the parameters): edit
        #   score 0.178 -> 0.219, reconstruction 27.1 -> 27.6 dB (row cw2s); 1.5x the step's time,
        #   which `quick`'s 25 minutes cannot pay.
        train.steps = 1600 if name == "quick" else 8000
        if name == "quick":
            model.decay_start = 1.0
        if name == "standard":
            model.cexp_freeze_at, model.coder_width = 2000, 2.0
        return RunConfig(method=cls.name, preset=name, data=data, train=train, model=model)

    # --- training ------------------------------------------------------------------------
    def setup(self, train: FaceDataset, log: Callable[[str], None] = lambda _msg: None) -> None:
        """AU bank of the training images (random targets) and, unless ablated, phi."""
        self.au_bank = train.aus.to(self.device)
        if not self.cfg.no_perceptual and self.phi is None:
            c = self.cfg
            trunk = face_trunk(train, c.perceptual_width, self.device, log) if c.perceptual_trunk == "face" else None
            self.phi = build_perceptual(c.vgg_weights, c.allow_random_vgg, c.perceptual_input,
                                        c.perceptual_width, trunk).to(self.device)
            self.vgg_status = self.phi.status.to_dict()

    def pretrain(self, train: FaceDataset, log: Callable[[str], None]) -> None:
        """Train C_id on the training identities, then freeze it (the authors: 16 epochs, Adam 2e-4,
        betas (0.5, 0.999), decay after half the epochs). With ``cexp_epochs`` > 0, C_exp first
        learns the real images' AU classes too (a CPU-preset setting; the paper trains C_exp only
        alongside G, which leaves G's first steps with an uninformed expression loss)."""
        c = self.cfg
        if "c_id" in self.nets and c.cid_epochs > 0:
            net = self.nets["c_id"]
            set_requires_grad(net, True)
            net.train()
            self.cid_accuracy = fit_classifier(
                "C_id", net, net.parameters(), train, train.identity_index, L.identity_loss, c.cid_epochs,
                c.cid_lr, (0.5, 0.999), c.cid_batch_size, self.device, log, self._schedule)
            set_requires_grad(net, False)
        if c.cexp_epochs > 0:
            net = self.nets["c_exp"]
            self.cexp_accuracy = fit_classifier(
                "C_exp", net, net.parameters(), train, L.discretise_aus(train.aus, c.au_discretisation),
                L.expression_loss, c.cexp_epochs, c.lr_exp, c.betas_exp, c.cid_batch_size, self.device, log,
                self._schedule)

    def random_targets(self, n: int) -> torch.Tensor:
        """AU vectors of random training images (torch's global RNG, so resume is exact)."""
        if self.au_bank is None:
            raise RuntimeError("EggAN.setup(train) must run before training")
        return self.au_bank[torch.randint(len(self.au_bank), (n,)).to(self.au_bank.device)]

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """D_img + C_exp, then D_z, then (every ``n_critic``-th step) E + G.

        E and G run once per iteration, before the critics move: the edit G(E(x) | u_t) is the
        critic's fake (detached) and, with its graph kept, the generator step's edit, since G is
        not updated in between. The authors' variant fakes G(z | u_fake) from a prior sample
        instead, with its own AU target draw (``critic_target=separate``).
        """
        batch = batch.to(self.device)
        x, u_s, n = batch.image, batch.aus, len(batch)
        u_fake = self.random_targets(n)  # the target of the critic's fake image
        u_t = self.random_targets(n) if self.cfg.critic_target == "separate" else u_fake  # G's edit
        if "c_id" in self.nets:
            self.nets["c_id"].train(self.cfg.cid_bn_updates)
        generator_due = (step + 1) % self.cfg.n_critic == 0
        if generator_due:
            code = self.ddp("encoder")(x)
            images = self.ddp("generator")(torch.cat([code, code]), torch.cat([u_t, u_s]))  # edit, reconstruction
        else:
            with torch.no_grad():
                code = self.nets["encoder"](x)
        exp_learns = self.cfg.cexp_freeze_at == 0 or step < self.cfg.cexp_freeze_at
        out = self.critic_step(x, u_s, self.critic_fake(code, images[:n] if generator_due else None, u_fake, u_t),
                               u_fake, exp_learns)
        out.update(self.latent_step(code.detach()))
        if generator_due:
            out.update(self.generator_step(x, u_s, u_t, batch.identity, code, images))
            self.update_ema(step)
        return {name: value.detach() for name, value in out.items()}

    def critic_fake(
        self, code: torch.Tensor, edit: torch.Tensor | None, u_fake: torch.Tensor, u_t: torch.Tensor
    ) -> torch.Tensor:
        """The image D_img learns to reject: G(E(x) | u_fake) (paper; with one target draw ``u_fake``
        is ``u_t``, and on a generator step this is the step's ``edit`` itself, not recomputed), or
        G(z | u_fake), z ~ N(0, I) (authors)."""
        if self.cfg.critic_fake == "edit" and edit is not None and u_fake is u_t:
            return edit.detach()
        with torch.no_grad():
            latent = code if self.cfg.critic_fake == "edit" else torch.randn_like(code)
            return self.nets["generator"](latent, u_fake)

    def critic_step(
        self, x: torch.Tensor, u_s: torch.Tensor, fake: torch.Tensor, u_fake: torch.Tensor, exp_learns: bool
    ) -> dict[str, torch.Tensor]:
        """D_img on real vs fake images (+ gradient penalty) and, while ``exp_learns`` (until
        ``cexp_freeze_at``), C_exp on real images' AU classes.

        A projection critic reads each real image with its own AUs, the fake with its target
        ``u_fake``, and the mixed images (for the penalty) with the real image's AUs."""
        c = self.cfg
        mixed = random_interpolate(x, fake)
        d_real, d_fake, d_mixed = self.critic(torch.cat([x, fake, mixed]), torch.cat([u_s, u_fake, u_s]),
                                              distributed=True).split(len(x))
        adv = L.critic_wgan_loss(d_real, d_fake) if c.adversarial == "wgan-gp" else L.critic_ls_loss(d_real, d_fake)
        gp = gradient_penalty(d_mixed, mixed)
        out = {"d_adv": adv, "d_gp": gp}
        loss, learners = adv + c.lambda_gp * gp, ("critic", "c_exp") if exp_learns else ("critic",)
        if exp_learns:
            levels = L.discretise_aus(u_s, c.au_discretisation)
            view = self.exp_view(x)
            if c.exp_adversarial > 0:
                view = self.adversarial_view(view, levels)
            logits = self.ddp("c_exp")(view)
            out["c_exp"] = L.expression_loss(logits, levels)
            out["c_exp_acc_real"] = L.expression_accuracy(logits, levels)
            loss = loss + out["c_exp"]
        for name in learners:
            self.optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        for name in learners:
            self.optimizers[name].step()
        return out

    def critic(self, images: torch.Tensor, aus: torch.Tensor, distributed: bool = False) -> torch.Tensor:
        """D_img's scores; the AUs reach it only when it is a projection critic."""
        net = self.ddp("critic") if distributed else self.nets["critic"]
        return net(images, aus) if self.cfg.critic_condition == "projection" else net(images)

    def exp_view(self, images: torch.Tensor) -> torch.Tensor:
        """What C_exp reads, when it learns and when it judges: the images blurred (``exp_blur``)
        and then noised (``exp_noise``), each by its own random amount."""
        return random_noise(random_blur(images, self.cfg.exp_blur), self.cfg.exp_noise)

    def adversarial_view(self, view: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        """``view`` moved by one signed-gradient step (1.25 x the radius, from a uniform random start,
        clipped to the L_inf ball of radius ``exp_adversarial``) towards C_exp's largest expression
        loss: what C_exp learns from when it learns adversarially. Only the input takes the step's
        gradient; the attack's pass, in training mode like the learning pass, also moves
        BatchNorm's running statistics, on images within the radius of the real ones."""
        radius = self.cfg.exp_adversarial
        delta = torch.empty_like(view).uniform_(-radius, radius).requires_grad_()
        loss = L.expression_loss(self.nets["c_exp"](view.detach() + delta), levels)
        (grad,) = torch.autograd.grad(loss, delta)
        step = (delta.detach() + 1.25 * radius * grad.sign()).clamp(-radius, radius)
        return view.detach() + step

    def latent_step(self, code: torch.Tensor) -> dict[str, torch.Tensor]:
        """D_z: prior samples z ~ N(0, I) are real, encoded images fake."""
        d_prior, d_code = self.ddp("latent_d")(torch.cat([torch.randn_like(code), code])).split(len(code))
        term = L.latent_d_loss if self.cfg.adversarial == "wgan-gp" else L.latent_d_ls_loss
        loss = term(d_prior, d_code)
        self.optimizers["latent_d"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["latent_d"].step()
        return {"dz_adv": loss}

    def generator_step(
        self, x: torch.Tensor, u_s: torch.Tensor, u_t: torch.Tensor, identity: torch.Tensor, code: torch.Tensor,
        images: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """E and G against the frozen D_img, D_z, C_exp, C_id and phi: one step on Eq. 7's weighted sum.

        ``code`` = E(x) and ``images`` = G(code | u_t), G(code | u_s) come with their graphs."""
        with frozen(*(self.nets[name] for name in ("critic", "latent_d", "c_exp"))):
            terms, weights, accuracy = self.generator_terms(x, u_s, u_t, identity, code, images)
            total = sum(weights[name] * value for name, value in terms.items())
            for name in ("encoder", "generator"):
                self.optimizers[name].zero_grad(set_to_none=True)
            total.backward()
            for name in ("encoder", "generator"):
                self.optimizers[name].step()
        return {**terms, "g_total": total, "exp_acc_edit": accuracy}

    def generator_terms(
        self, x: torch.Tensor, u_s: torch.Tensor, u_t: torch.Tensor, identity: torch.Tensor, code: torch.Tensor,
        images: torch.Tensor,
    ) -> tuple[dict[str, torch.Tensor], dict[str, float], torch.Tensor]:
        """Every term of Eq. 7 that is on, its weight, and C_exp's accuracy on the edit."""
        c, n = self.cfg, len(x)
        recon = images[n:]
        # The images judged by D_img, C_exp and C_id: the edit (paper) or edit + reconstruction.
        judged, judged_aus = (images, torch.cat([u_t, u_s])) if c.reconstruction_terms else (images[:n], u_t)
        terms: dict[str, torch.Tensor] = {}
        weights: dict[str, float] = {}

        adv_term = L.generator_wgan_loss if c.adversarial == "wgan-gp" else L.generator_ls_loss
        terms["g_adv"] = sum_over_branches(adv_term, n, self.critic(judged, judged_aus))
        weights["g_adv"] = 1.0
        if c.encoder_adversarial:
            terms["e_adv"] = L.latent_encoder_loss(self.nets["latent_d"](code))
            weights["e_adv"] = c.lambda_z
        with eval_mode(self.nets["c_exp"]):  # a fixed judge: BatchNorm reads its running statistics
            logits = self.nets["c_exp"](self.exp_view(judged))
        levels = L.discretise_aus(judged_aus, c.au_discretisation)
        terms["g_exp"] = sum_over_branches(L.expression_loss, n, logits, levels)
        weights["g_exp"] = c.lambda_exp * c.classifier_weight_scale
        if not c.no_identity:
            identities = identity.repeat(len(judged) // n)
            c_id = self.nets["c_id"]
            if c.cid_passes == "per-branch":  # the authors: one pass per branch, BatchNorm sees n images at a time
                id_logits = torch.cat([c_id(part) for part in judged.split(n)])
            else:
                id_logits = c_id(judged)
            terms["g_id"] = sum_over_branches(L.identity_loss, n, id_logits, identities)
            weights["g_id"] = c.lambda_id * c.classifier_weight_scale
        if not c.no_perceptual:
            if self.phi is None:
                raise RuntimeError("EggAN.setup(train) must run before training")
            with torch.no_grad():
                reference = self.phi(x)
            terms["g_per"] = sum_over_branches(L.perceptual_loss, n, self.phi(images), reference.repeat(2, 1, 1, 1))
            weights["g_per"] = c.lambda_per
        terms["g_l1"] = L.l1_loss(recon, x)
        weights["g_l1"] = c.lambda_rec
        if self.msssim is not None:
            terms["g_msssim"] = L.msssim_loss(recon, x, self.msssim)
            weights["g_msssim"] = c.lambda_msssim

        return terms, weights, L.expression_accuracy(logits[:n], levels[:n])

    # --- inference -----------------------------------------------------------------------
    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        """G(E(source) | target AUs), from the moving averages of E and G where they are kept."""
        return self.inference("generator")(self.inference("encoder")(source), target.aus)

    # --- state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "vgg19": self.vgg_status, "cid_accuracy": self.cid_accuracy,
                "cexp_accuracy": self.cexp_accuracy}

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        super().load_state_dict(state, weights_only)
        self.vgg_status = self.vgg_status or state.get("vgg19")
        self.cid_accuracy = state.get("cid_accuracy")
        self.cexp_accuracy = state.get("cexp_accuracy")

    @classmethod
    def check_requirements(cls, config: RunConfig) -> None:
        """The perceptual loss needs ImageNet VGG19 weights unless a random stand-in is allowed."""
        model = resolve(config.model)
        if not model.no_perceptual and model.perceptual_width == 1.0 and model.perceptual_trunk == "vgg19":
            require_weights(model.vgg_weights, model.allow_random_vgg)

    def metadata(self) -> dict[str, Any]:
        c = self.cfg
        terms = ["latent_adversarial_d", "image_adversarial", "gradient_penalty", "expression", "reconstruction_l1"]
        terms += ["latent_adversarial_encoder"] if c.encoder_adversarial else []
        terms += [] if c.no_identity else ["identity"]
        terms += [] if c.no_perceptual else ["perceptual"]
        terms += [] if c.no_msssim else ["reconstruction_msssim"]
        vgg = self.vgg_status or {"weights": "not used" if c.no_perceptual else "not built yet"}
        return {
            **super().metadata(),
            "variant": c.variant,
            "loss_terms": sorted(terms),
            "ablations": {"no_perceptual": c.no_perceptual, "no_identity": c.no_identity, "no_msssim": c.no_msssim},
            "variant_settings": differences(c),
            "latent_size": c.latent_size,
            "width": c.width,
            "perceptual_width": c.perceptual_width,
            "perceptual_trunk": c.perceptual_trunk,
            "critic_width": c.width if c.critic_width is None else c.critic_width,
            "critic_condition": c.critic_condition,
            "au_injection": c.au_injection,
            "coder_width": c.width if c.coder_width is None else c.coder_width,
            "norm": c.norm,
            "classifier_weight_scale": c.classifier_weight_scale,
            "vgg19": vgg,
            "msssim": None if self.msssim is None else self.msssim.to_dict(),
            "cid_pretraining": {"epochs": c.cid_epochs, "lr": c.cid_lr, "batch_size": c.cid_batch_size,
                                "train_accuracy": self.cid_accuracy},
            "cexp_pretraining": {"epochs": c.cexp_epochs, "lr": c.lr_exp, "batch_size": c.cid_batch_size,
                                 "train_accuracy": self.cexp_accuracy},
        }


def sum_over_branches(term: Callable[..., torch.Tensor], n: int, *tensors: torch.Tensor) -> torch.Tensor:
    """A loss term computed per branch of ``n`` images (edit, then reconstruction) and summed, as
    the authors add their edit and reconstruction terms; one branch when only the edit is judged."""
    chunks = [t.split(n) for t in tensors]
    return sum(term(*parts) for parts in zip(*chunks, strict=True))

