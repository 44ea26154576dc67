"""HomoInterpGAN (Chen et al., CVPR 2019) as the authors' released code trains it, for expressions.

A trainable VGG-19 encoder E maps a face to a latent; the interpolator I moves the latent of a
source towards a reference, branch by branch (here homointerp.md section 4's adaptation: one
expression group of 8 classes + the residual branch); the decoder G maps latents back to pixels.
Training is adversarial in latent space (critic D with an expression classifier head), with
reconstruction of the unedited input and knowledge guidance (KGT maps E's latent onto a frozen
copy T of the initial VGG). Per step, in the authors' order: G, D, KGT; E and I together every
``n_discrim``-th step (steps 0, 5, 10, ...). Test-time transfer: the target image is the
reference, strength ``test_strength`` on the expression branch, 0 on the residual branch.

Deviations from the authors' code, all recorded in ``metadata()``:
- Encoder initialisation: the authors' "normalized VGG-19" file when given
  (``model.vgg19g_path``), else torchvision ImageNet VGG-19 with the same Gatys-style rescaling
  measured on our training faces (``homointerp_vgg``). The smoke/quick presets use a narrow,
  seeded random trunk without the rescaling: on random filters, which respond weakly to smooth
  faces, per-filter rescaling amplifies them so much that the perceptual loss diverged (decoder
  pre-training: perceptual MSE rising from ~1e3 to ~7e3 in 200 steps; ~1e-2 without it).
- The decoder pre-training stage (the authors' separately released decoder) runs in
  ``pretrain`` on our training split for ``pretrain_steps``; the authors trained it on CelebA.
- The perceptual network is the frozen teacher's relu3_1 prefix instead of a third copy of the
  same frozen VGG (same weights, same values).
- Every network step uses its own forward pass (the authors retain one encoder graph for four
  backward passes): the same gradients, and compatible with DDP.
- The critic's downsampling depth follows the latent size so it works at 32/64/128 px (at 128 it
  is the authors'); widths scale with ``width`` for CPU presets.
- Kept from the released code by default: D's classifier is trained on *interpolated* latents
  with the *source* labels (E/I then push it towards the interpolated labels); per-label sigmoid
  BCE summed and divided by the batch size; gradient penalty weight 100; no learning-rate decay.
  ``classifier_on="real"`` trains the classifier on real latents with their real labels instead
  (the common design; homointerp.md asks for it to be labelled a deviation, and it is, in the
  metadata's ``classifier_training`` and ``deviations``).
- The critic sees interpolated, real and mixed latents in one batched call, and the teacher's
  relu3_1 block runs once for both the perceptual reference and the relu5_1 target (the authors:
  separate calls; no batch statistics, so the same values).
- Inputs/outputs: the suite's [-1, 1] images are mapped to ImageNet normalisation and back (the
  authors' CelebA crop, orientation flips and contrast stretch are data preparation, not done).
- CPU-recipe settings (issue 19), off by default and in ``paper``: the latent taken at a shallower
  VGG layer so it keeps the authors' 8x8 grid at 32 px (``latent_layer``), and moving averages of
  E, I and G for translation (``ema_half_life``), and the non-saturating loss with R1 on real
  latents instead of WGAN-GP (``adversarial``): under the gradient penalty the critic's shared
  trunk went flat at 32 px and its classifier head stayed at chance (BCE 3.0 = 8 x H(1/8)) for a
  whole quick run, so the interpolator was steered by nothing. And a second attribute group,
  the training identities (``identity_group``), so that the expression branch learns to leave
  the person alone, as the other groups' branches do for the authors' CelebA smile branch.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from baselines.homointerp_nets import (
    LATENT_LAYERS,
    Decoder,
    Interpolator,
    KGTransform,
    LatentCritic,
    VGGEncoder,
    latent_grid,
)
from baselines.homointerp_vgg import copy_torchvision, init_encoder
from eggan.core.config import RunConfig, base_preset
from eggan.core.facetrunk import face_trunk
from eggan.core.gan import (
    gradient_penalty,
    logistic_critic_loss,
    logistic_generator_loss,
    r1_penalty,
    random_interpolate,
)
from eggan.core.method import DataInfo, Method, adam, frozen, set_requires_grad
from eggan.core.schedules import constant
from eggan.core.vgg import imagenet_denormalise, imagenet_normalise, require_weights
from eggan.data.dataset import Batch, FaceDataset, Target
from eggan.errors import ConfigError, DataError, MissingComponentError

EXPRESSION_BRANCH = 0  # group g owns branch g (identity: 1); the residual branch is the last


@dataclass
class HomoInterpConfig:
    width: float = 1.0
    lambda_gp: float = 100.0
    n_discrim: int = 5  # E and I are updated when step % n_discrim == 0
    lr: float = 1e-4
    beta1: float = 0.5  # E, I, D
    beta1_decoder: float = 0.9  # G and KGT (the authors' "fixbug" commit)
    beta2: float = 0.999
    test_strength: float = 1.0
    pretrain_steps: int = 10000  # decoder pre-training on frozen VGG features
    pretrain_batch: int = 32
    vgg19g_path: str | None = None  # the authors' normalised VGG-19 file, if you have it
    vgg19_path: str | None = None  # torchvision ImageNet VGG-19 (else found offline by eggan.core.vgg)
    normalise_vgg: bool = True  # Gatys-style rescaling of the ImageNet weights
    normalise_images: int = 64
    allow_random_vgg: bool = False
    # What D's classifier head learns from: "interpolated" latents with the source labels (released
    # code: an adversarial classifier), or "real" latents with their own labels (a deviation).
    classifier_on: Literal["interpolated", "real"] = "interpolated"
    # Recipe settings of issue 19 (the authors' values are the defaults; see ``metadata``):
    # - latent_layer: the VGG layer the latent is taken at. The authors' relu5_1 is an 8x8 map at
    #   their 128 px but 2x2 at 32 px; relu3_1 gives the authors' 8x8 grid at 32 px;
    # - ema_half_life: translate with moving averages of E, I and G (stylegan2-ada's G_ema), in iterations.
    # - adversarial: "wgan-gp" (the authors') or "r1": the non-saturating logistic loss on the mean
    #   of the critic's scores with the R1 penalty r1_gamma / 2 * ||grad D(real latent)||^2.
    latent_layer: Literal["relu5_1", "relu4_1", "relu3_1"] = "relu5_1"
    ema_half_life: float = 0.0
    adversarial: Literal["wgan-gp", "r1"] = "wgan-gp"
    r1_gamma: float = 1.0
    # - encoder_init: "vgg19" (the authors' VGG, ImageNet VGG or the random stand-in, as above) or
    #   "face": the VGG layout up to relu3_1 trained on the run's training split to tell its people
    #   apart (eggan.core.facetrunk), for E and its teacher T; it needs latent_layer="relu3_1".
    encoder_init: Literal["vgg19", "face"] = "vgg19"
    # - identity_group: a second attribute group, the training identities (one-hot, learnt by softmax
    #   cross-entropy), with its own interpolator branch and classifier logits, as the authors'
    #   CelebA model has a group (and a branch) for each attribute family it must keep apart from the
    #   edited one (homointerp.md section 4). At test time its strength is 0, so the classifier must
    #   still read the source's identity from the edited latent: the expression branch is trained not
    #   to carry the reference person across.
    identity_group: bool = False


def bce_sum(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The authors' classification loss: sigmoid BCE summed over labels, divided by the batch size."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / logits.shape[0]


class HomoInterpGAN(Method):
    name = "homointerp"
    condition = "image"
    Config = HomoInterpConfig

    def __init__(self, config: HomoInterpConfig, info: DataInfo, total_steps: int, device: torch.device) -> None:
        super().__init__(config, info, total_steps, device)
        if config.n_discrim < 1:
            raise ConfigError("model.n_discrim must be at least 1")
        if config.classifier_on not in ("interpolated", "real"):
            raise ConfigError(f"model.classifier_on must be 'interpolated' or 'real', not {config.classifier_on!r}")
        if config.adversarial not in ("wgan-gp", "r1"):
            raise ConfigError(f"model.adversarial must be 'wgan-gp' or 'r1', not {config.adversarial!r}")
        if config.latent_layer not in LATENT_LAYERS:
            raise ConfigError(f"model.latent_layer must be one of {', '.join(LATENT_LAYERS)}, not "
                              f"{config.latent_layer!r}")
        if config.encoder_init not in ("vgg19", "face"):
            raise ConfigError(f"model.encoder_init must be 'vgg19' or 'face', not {config.encoder_init!r}")
        if config.encoder_init == "face" and config.latent_layer != "relu3_1":
            raise ConfigError("model.encoder_init=face trains VGG's layers up to relu3_1 only; it needs "
                              "model.latent_layer=relu3_1")
        w, layer = config.width, config.latent_layer
        grid = latent_grid(info.image_size, layer)
        n_classes = info.n_expressions + (info.n_identities if config.identity_group else 0)
        if grid < 2:
            raise ConfigError(f"model.latent_layer={layer} leaves a {grid}x{grid} latent at {info.image_size} px; "
                              "the latent critic needs at least 2x2")
        self.nets["E"] = VGGEncoder(w, layer)
        self.nets["I"] = Interpolator(self.n_branch, w, layer)
        self.nets["G"] = Decoder(w, layer)
        self.nets["D"] = LatentCritic(grid, n_classes, w, layer)
        self.nets["KGT"] = KGTransform(w, layer)
        self.nets["T"] = copy.deepcopy(self.nets["E"])  # frozen teacher; set in pretrain
        set_requires_grad(self.nets["T"], False)
        betas = {"E": config.beta1, "I": config.beta1, "D": config.beta1, "G": config.beta1_decoder,
                 "KGT": config.beta1_decoder}
        for name, beta1 in betas.items():
            self.optimizers[name] = adam(self.nets[name].parameters(), config.lr, (beta1, config.beta2))
            self.schedulers[name] = constant(self.optimizers[name])
        if config.ema_half_life > 0:
            self.keep_ema(("E", "I", "G"), config.ema_half_life)
        self.vgg_init: dict[str, Any] = {"weights": "not initialised (pretrain has not run)"}
        self.pretrained_decoder_steps = 0

    @classmethod
    def check_requirements(cls, config: RunConfig) -> None:
        """The encoder starts from the authors' normalised VGG-19 or ImageNet VGG-19 unless random is allowed."""
        model = config.model
        if model.encoder_init == "face":
            return
        if model.vgg19g_path:
            if not Path(model.vgg19g_path).is_file():
                raise MissingComponentError("normalised VGG-19 file (model.vgg19g_path) not found", model.vgg19g_path)
        elif model.width == 1:
            require_weights(model.vgg19_path, model.allow_random_vgg)

    @classmethod
    def preset(cls, name: str) -> RunConfig:
        data, train = base_preset(name)
        if name == "smoke":
            model = HomoInterpConfig(width=0.125, pretrain_steps=4, pretrain_batch=4, normalise_vgg=False,
                                     allow_random_vgg=True)
        elif name in ("quick", "standard"):
            # The CPU recipe (32 px, batch 32): a quarter-width VGG trunk (random without ImageNet
            # weights), the decoder pre-trained at the run's batch, D's classifier learning real
            # latents' own labels (a labelled deviation: a classifier of real expressions is what
            # the interpolator's expression branch is steered by) and three times the authors'
            # learning rate; issue 19's settings (docs/baseline-recipes.md): the authors' 8x8
            # latent grid (relu3_1 at 32 px), moving averages, and R1 on the latent critic, whose
            # classifier stayed at chance under WGAN-GP; the identity group, with E and I updated
            # every step, so the expression branch stops carrying the reference person (`quick`,
            # rows hi4 and hi4s1: edit score -0.012 and 0.053 against -0.091 and -0.070, the same
            # own edit; `standard`, row his: 0.072 against -0.247). It still hardly edits.
            model = HomoInterpConfig(width=0.25, pretrain_steps=500, pretrain_batch=32, normalise_vgg=False,
                                     allow_random_vgg=True, classifier_on="real", lr=3e-4,
                                     latent_layer="relu3_1", ema_half_life=100.0, adversarial="r1",
                                     identity_group=True, n_discrim=1)
            train.steps = 1500 if name == "quick" else 6000
        else:
            model = HomoInterpConfig()
            train.batch_size = 32  # the authors' default (the README's 128 ran on 4 GPUs)
        return RunConfig(cls.name, name, data, train, model)

    # --- stage 0: encoder initialisation and decoder pre-training -----------------------------
    def pretrain(self, train: FaceDataset, log: Callable[[str], None]) -> None:
        c = self.config
        E, T, G = self.nets["E"], self.nets["T"], self.nets["G"]
        if c.encoder_init == "face":
            trunk, status = face_trunk(train, c.width, self.device, log)
            copy_torchvision(T, trunk)
            self.vgg_init = {**status.to_dict(), "normalised": "no (trained weights)"}
        else:
            sample = train.batch(torch.arange(min(c.normalise_images, len(train)))).image.to(self.device)
            self.vgg_init = init_encoder(T, c.width, imagenet_normalise(sample), c.vgg19g_path, c.vgg19_path,
                                         c.normalise_vgg, c.allow_random_vgg)
        E.load_state_dict(T.state_dict())
        log(f"homointerp: encoder from {self.vgg_init['weights']} VGG-19 ({self.vgg_init['normalised']})")
        optimizer = adam(G.parameters(), c.lr, (0.5, 0.999))
        for step in range(c.pretrain_steps):
            pick = torch.randint(len(train), (min(c.pretrain_batch, len(train)),))
            x = imagenet_normalise(train.batch(pick).image.to(self.device))
            with torch.no_grad():
                f, p_x = T(x), T.features_1(x)
            pixel, perceptual = self.decoder_loss(G(f), x, p_x)
            optimizer.zero_grad(set_to_none=True)
            (pixel + perceptual).backward()
            optimizer.step()
            if (step + 1) % max(1, c.pretrain_steps // 10) == 0:
                log(f"homointerp decoder pre-training {step + 1}/{c.pretrain_steps}: "
                    f"pixel {pixel.item():.4f} perceptual {perceptual.item():.4f}")
        self.pretrained_decoder_steps = c.pretrain_steps

    def decoder_loss(self, rec: torch.Tensor, x: torch.Tensor, p_x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel MSE and relu3_1 perceptual MSE (frozen teacher), both in ImageNet-normalised space."""
        return F.mse_loss(rec, x), F.mse_loss(self.nets["T"].features_1(rec), p_x)

    # --- training ----------------------------------------------------------------------------
    @property
    def n_branch(self) -> int:
        """Expression (+ identity) + residual."""
        return 3 if self.config.identity_group else 2

    def labels(self, batch: Batch) -> list[torch.Tensor]:
        """One-hot labels per attribute group: expression, then (``identity_group``) identity."""
        expression = batch.expression
        if (expression < 0).any() or (expression >= self.info.n_expressions).any():
            raise DataError("HomoInterpGAN needs an expression label (one of the eight) for every image")
        groups = [F.one_hot(expression, self.info.n_expressions).float()]
        if self.config.identity_group:
            groups.append(F.one_hot(batch.identity, self.info.n_identities).float())
        return groups

    @staticmethod
    def interpolated_labels(groups: list[torch.Tensor], perm: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Group g's target is a_g + v_g (a'_g - a_g), v_g being its branch's strength (the
        authors' soft labels); the groups' columns are concatenated as D's logits are."""
        return torch.cat([a + v[:, g : g + 1] * (a[perm] - a) for g, a in enumerate(groups)], dim=1)

    def classification_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The authors' summed sigmoid BCE on the expression logits; the identity group (one label
        of hundreds) by softmax cross-entropy with its soft targets instead. Under summed sigmoid
        BCE over 368 identity labels the critic's shared trunk gave one output for every latent
        (presumably the quickest way to drive every logit down at once): its critic and
        expression head then stayed at chance all run (d_adv 2 ln 2, d_cls at its chance value;
        docs/baseline-recipes.md, row hi1)."""
        k = self.info.n_expressions
        loss = bce_sum(logits[:, :k], target[:, :k])
        if self.config.identity_group:
            loss = loss + F.cross_entropy(logits[:, k:], target[:, k:])
        return loss

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        c, nets = self.config, self.nets
        x = imagenet_normalise(batch.image)
        groups = self.labels(batch)
        a = torch.cat(groups, dim=1)
        n = len(batch)
        v = torch.rand(n, self.n_branch, device=x.device)
        perm = torch.randperm(n, device=x.device)
        a_interp = self.interpolated_labels(groups, perm, v)
        with torch.no_grad():
            f = nets["E"](x)
            z = nets["I"](f, f[perm], v)
            p_x = nets["T"].features_1(x)  # the perceptual reference, and the teacher's first block
            t = nets["T"].beyond_relu3_1(p_x)

        # (a) decoder: reconstruct the unedited input
        dec_pixel, dec_perceptual = self.decoder_loss(self.ddp("G")(f), x, p_x)
        self._step("G", dec_pixel + dec_perceptual)

        # (b) latent critic and classifier
        losses = {"dec_pixel": dec_pixel, "dec_perceptual": dec_perceptual, **self._critic_step(z, f, a)}

        # (c) knowledge-guidance transform onto the frozen teacher
        kg = F.mse_loss(self.ddp("KGT")(f), t)
        self._step("KGT", kg)
        losses["kg"] = kg

        # (d) encoder and interpolator together
        if step % c.n_discrim == 0:
            losses.update(self._encoder_interpolator_step(x, a_interp, perm, v, t, p_x))
        self.update_ema(step)
        return {name: value.detach() for name, value in losses.items()}

    def _critic_step(self, z: torch.Tensor, f: torch.Tensor, a: torch.Tensor) -> dict[str, torch.Tensor]:
        """D's update on interpolated latents ``z`` (fake) and real latents ``f`` in one call (no
        batch statistics in D): WGAN-GP on mixed latents (the authors') or the logistic loss with R1
        on ``f``, plus the classifier. Released code: the classifier learns the *source* labels
        from *interpolated* latents; ``classifier_on="real"`` (a labelled deviation) teaches it real
        labels on real latents."""
        c, n = self.config, len(f)
        if c.adversarial == "wgan-gp":
            mixed = random_interpolate(f, z)
            scores, logits = self.ddp("D")(torch.cat([z, f, mixed]))
            score_z, score_f, score_mixed = scores.split(n)
            adv = {"d_adv": score_z.mean() - score_f.mean()}
            reg, weight = {"d_gp": gradient_penalty(score_mixed, mixed)}, c.lambda_gp
        else:
            real = f.detach().requires_grad_(True)
            scores, logits = self.ddp("D")(torch.cat([z, real]))
            score_z, score_f = scores.mean(1).split(n)
            adv = {"d_adv": logistic_critic_loss(score_f, score_z)}
            reg, weight = {"d_r1": r1_penalty(score_f, real)}, c.r1_gamma / 2
        d_cls = self.classification_loss(logits[:n] if c.classifier_on == "interpolated" else logits[n : 2 * n], a)
        (loss,), (penalty,) = adv.values(), reg.values()
        self._step("D", loss + weight * penalty + d_cls)
        return {**adv, **reg, "d_cls": d_cls}

    def _encoder_interpolator_step(self, x: torch.Tensor, a_interp: torch.Tensor, perm: torch.Tensor,
                                   v: torch.Tensor, t: torch.Tensor, p_x: torch.Tensor) -> dict[str, torch.Tensor]:
        with frozen(*(self.nets[name] for name in ("G", "D", "KGT"))):
            encoder, interp = self.ddp("E"), self.ddp("I")
            f = encoder(x)
            score_z, logits_z = self.nets["D"](interp(f, f[perm], v))
            adv = -score_z.mean() if self.config.adversarial == "wgan-gp" else logistic_generator_loss(score_z.mean(1))
            cls = self.classification_loss(logits_z, a_interp)
            f_bar = f.detach()
            interp_all = F.mse_loss(interp(f_bar, f_bar[perm], torch.ones_like(v)), f_bar[perm])
            pixel, perceptual = self.decoder_loss(self.nets["G"](f), x, p_x)
            kg = F.mse_loss(self.nets["KGT"](f), t)
            for name in ("E", "I"):
                self.optimizers[name].zero_grad(set_to_none=True)
            (adv + cls + interp_all + pixel + perceptual + kg).backward()
            for name in ("E", "I"):
                self.optimizers[name].step()
        return {"ei_adv": adv, "ei_cls": cls, "ei_interp_all": interp_all, "ei_rec": pixel + perceptual,
                "ei_kg": kg}

    def _step(self, name: str, loss: torch.Tensor) -> None:
        self.optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers[name].step()

    # --- inference ---------------------------------------------------------------------------
    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        encoder = self.inference("E")
        v = torch.zeros(source.shape[0], self.n_branch, device=source.device)
        v[:, EXPRESSION_BRANCH] = self.config.test_strength
        z = self.inference("I")(encoder(imagenet_normalise(source)), encoder(imagenet_normalise(target.image)), v)
        return imagenet_denormalise(self.inference("G")(z))

    # --- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "vgg_init": self.vgg_init,
                "pretrained_decoder_steps": self.pretrained_decoder_steps}

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        super().load_state_dict(state, weights_only)
        self.vgg_init = dict(state["vgg_init"])
        self.pretrained_decoder_steps = int(state["pretrained_decoder_steps"])

    def metadata(self) -> dict[str, Any]:
        c = self.config
        grid = latent_grid(self.info.image_size, c.latent_layer)
        return {
            **super().metadata(),
            "config": asdict(self.config),
            "vgg_init": self.vgg_init,
            "decoder_pretraining_steps": self.pretrained_decoder_steps,
            "groups": (f"expression (8 labels) and identity ({self.info.n_identities} training people) groups "
                       "+ residual branch (3 branches)" if c.identity_group
                       else "one expression group of 8 labels + residual branch (2 branches)"),
            "classifier_training": {
                "interpolated": "D's classifier on interpolated latents with source labels (released code)",
                "real": "D's classifier on real latents with their own labels (deviation from the released code)",
            }[self.config.classifier_on],
            "test_transfer": f"target image as reference, strength {self.config.test_strength} on the "
            f"expression branch, 0 on the {'identity and ' if c.identity_group else ''}residual branch",
            "update_schedule": f"G, D, KGT every step; E and I when step % {self.config.n_discrim} == 0",
            "adversarial": {"wgan-gp": f"WGAN-GP on the latents, lambda_gp {c.lambda_gp:g} (the authors')",
                            "r1": f"non-saturating logistic loss with R1 on real latents, gamma {c.r1_gamma:g} "
                                  "(Mescheder et al. 2018)"}[c.adversarial],
            "latent": f"{c.latent_layer}, a {grid}x{grid} map at {self.info.image_size} px",
            "evaluated_networks": (f"moving averages of E, I and G, half-life {self.config.ema_half_life:g} iterations"
                                   if self.config.ema_half_life else "E, I and G as trained (the authors')"),
            "deviations": [
                "decoder pre-trained on this run's training split (the authors: CelebA, released checkpoint)",
                "perceptual loss through the frozen teacher's relu3_1 (the authors: a third copy, same weights)",
                "one forward pass per network update (the authors reuse one encoder graph): same gradients",
                "critic downsampling depth follows the latent size (the authors' trunk fits 128 px only)",
                "[-1, 1] images mapped to ImageNet normalisation; no CelebA crop/orientation flip/contrast stretch",
                *(["D's classifier trained on real latents with real labels (released: interpolated latents, "
                   "source labels)"] if self.config.classifier_on == "real" else []),
                *([f"lr = {self.config.lr:g} (the authors: 1e-4)"] if self.config.lr != 1e-4 else []),
                *(["encoder and teacher start from a VGG layout trained on the training split's identities "
                   "(the authors: normalised ImageNet VGG-19)"] if c.encoder_init == "face" else []),
                *([f"latent at {self.config.latent_layer} (the authors: relu5_1)"]
                  if self.config.latent_layer != "relu5_1" else []),
                *([f"translates with moving averages of E, I and G (half-life {self.config.ema_half_life:g} "
                   "iterations; the authors: the networks)"] if self.config.ema_half_life else []),
                *([f"n_discrim = {self.config.n_discrim} (the authors: 5)"] if self.config.n_discrim != 5 else []),
                *(["a second attribute group, the training identities, with its own branch and classifier "
                   "logits learnt by softmax cross-entropy (the authors' RaFD adaptation: the expression group "
                   "alone)"] if c.identity_group else []),
                *([f"latent critic: non-saturating logistic loss with R1 on real latents (gamma {c.r1_gamma:g}) "
                   f"instead of WGAN-GP (lambda_gp {c.lambda_gp:g})"] if c.adversarial == "r1" else []),
            ],
        }
