"""EGGAN's configuration, and the two variants: the paper (default) and the authors' public code.

Every point where the authors' code departs from the paper is one field of ``EggANConfig``.
Those fields default to ``None``, meaning "whatever the variant says"; ``resolve`` fills them
from ``VARIANT_DEFAULTS``. So ``--set model.variant=official`` switches everything at once, and
``--set model.variant=official --set model.au_discretisation=round`` changes one piece back.
The resolved values are what the model uses and what its metadata records.
docs/eggan-variants.md lists the differences with their switches.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from eggan.egg.nets_paper import VGG19_DEPTH
from eggan.errors import ConfigError

Variant = Literal["paper", "official"]


@dataclass
class EggANConfig:
    variant: Variant = "paper"
    width: float = 1.0  # channel multiplier of every convolutional network
    # CPU-preset settings of the paper architecture (not in the paper, recorded in the metadata):
    # D_img's own channel multiplier (None: ``width``), E's and G's (None: ``width``), and E's and
    # G's normalisation.
    critic_width: float | None = None
    coder_width: float | None = None
    norm: Literal["instance", "batch"] = "instance"
    classifier_depth: tuple[int, ...] = VGG19_DEPTH  # convs per block of the paper's C_exp / C_id
    latent_size: int | None = None  # paper: not given, 128; authors (as run): 512
    # The code as a latent_grid x latent_grid map instead of a vector (1, the paper: E ends in a
    # fully connected layer). A CPU-preset setting of the paper architecture: at 32 px a vector
    # code reconstructed held-out faces at 20 dB after 1,600 steps, an 8x8 map at 25 dB.
    latent_grid: int = 1

    # Loss weights (Eq. 7). lambda_msssim weighs (1 - MS-SSIM): in the paper it sits inside
    # L_rec (Eq. 6), so it defaults to lambda_rec there; the authors weigh it separately.
    lambda_exp: float | None = None
    lambda_id: float | None = None
    lambda_per: float | None = None
    lambda_rec: float | None = None
    lambda_msssim: float | None = None
    lambda_gp: float | None = None
    lambda_z: float = 1.0  # the encoder's latent adversarial term (weight 1 in Eq. 7)
    classifier_weight_scale: float = 1.0  # multiplies lambda_exp and lambda_id (smoke 0.1, quick 0.3)

    # Optimisation (Section 4.1). Adam betas are not in the paper: the authors' values are used.
    lr: float = 1e-4  # E, G, D_z, D_img
    lr_exp: float = 2e-4  # C_exp
    betas: tuple[float, float] = (0.5, 0.999)
    betas_exp: tuple[float, float] = (0.95, 0.999)
    decay_start: float = 0.5  # share of the schedule after which the rate decays linearly
    schedule_epochs: int = 16  # epochs the authors' epoch-wise schedule divides the run into
    n_critic: int = 1  # D_img / D_z updates per E+G update (neither the paper nor the code use >1)

    # Ablations (Section 4.4): a switched-off term is never computed.
    no_perceptual: bool = False  # E_wtP
    no_identity: bool = False  # E_wtI
    no_msssim: bool = False  # E_wtS

    # C_id pre-training on the training identities (then frozen); its batch size is the variant's.
    cid_epochs: int = 16
    cid_lr: float = 2e-4
    # C_exp pre-training on the real training images before the adversarial game (0: the paper's
    # joint training only), at C_id's pre-training batch. A CPU-preset setting, not in the paper or
    # the authors' code.
    cexp_epochs: int = 0
    # C_exp stops learning at this iteration and judges G as it stands (0: it learns all run long).
    # A CPU-preset setting (`standard`): over 8,000 iterations C_exp memorises the 3,200 training
    # faces (accuracy 1.000 from iteration 5,600) and the edits decline from iteration 2,100 on.
    cexp_freeze_at: int = 0

    # CPU-preset training settings (not in the paper or the authors' code; 0 is off, as published):
    # - ema_half_life: E and G are evaluated as moving averages with this half-life in iterations
    #   (stylegan2-ada's G_ema, ramped up over the first iterations);
    # - exp_blur: C_exp reads every image (real ones when it learns, the edit when it judges G)
    #   through a Gaussian blur of a random sigma up to this many pixels, so G cannot satisfy it
    #   with pixel patterns that are not the expression;
    # - exp_noise: C_exp reads every image (as exp_blur) with Gaussian noise added, of a random
    #   standard deviation up to this value in [-1, 1] units, after the blur: a change too faint to
    #   survive the noise does not move C_exp, so G has to make the edit in earnest.
    # - exp_adversarial: C_exp learns on real images moved within an L_inf ball of this radius
    #   ([-1, 1] units) towards its largest loss (FGSM with a random start, Wong, Rice & Kolter
    #   2020): a classifier trained so holds its reading against faint changes, and its gradients
    #   follow the visible features (Santurkar et al. 2019), so G would have to make the change
    #   itself (row a1 of docs/eggan-variants.md: C_exp learnt more slowly and the edit shrank; off
    #   in every preset).
    # - critic_condition: "projection" makes D_img judge (image, AU vector) pairs, real images with
    #   their own AUs and edits with their targets (a projection discriminator, Miyato & Koyama
    #   2018), so an edit that shows only part of its target's change is not a realistic pair.
    # - au_injection: "every-block" gives G's later blocks the AU map too (latent grid only), so the
    #   target reaches the resolutions where the mouth and brows are drawn (row z9 of
    #   docs/eggan-variants.md: no gain, off in every preset).
    ema_half_life: float = 0.0
    exp_blur: float = 0.0
    exp_noise: float = 0.0
    exp_adversarial: float = 0.0
    critic_condition: Literal["none", "projection"] = "none"
    au_injection: Literal["input", "every-block"] = "input"

    # phi (VGG19 up to relu3_1)
    vgg_weights: str | None = None
    allow_random_vgg: bool = False
    # Channel multiplier of phi's trunk. ImageNet weights exist at 1 only; below 1 the trunk is a
    # seeded random stand-in (needs allow_random_vgg) whose cost falls with the square of the width.
    perceptual_width: float = 1.0
    # phi's weights: "vgg19" (ImageNet, or the random stand-in where allowed) or "face": the same
    # layout trained on the run's training split to tell its people apart (eggan.core.facetrunk).
    perceptual_trunk: Literal["vgg19", "face"] = "vgg19"

    # The paper / authors' code differences (None: the variant's value).
    architecture: Literal["paper", "official"] | None = None
    adversarial: Literal["wgan-gp", "least-squares"] | None = None
    au_discretisation: Literal["round", "truncate"] | None = None
    encoder_adversarial: bool | None = None  # E trained against D_z (Eq. 1)
    critic_fake: Literal["edit", "prior"] | None = None  # D_img's fake: G(E(x)|u_t) or G(z|u_t)
    reconstruction_terms: bool | None = None  # adversarial, C_exp, C_id also on the reconstruction
    msssim: Literal["standard", "official"] | None = None
    perceptual_input: Literal["imagenet", "raw"] | None = None
    lr_schedule: Literal["linear", "epochwise"] | None = None
    cid_bn_updates: bool | None = None  # frozen C_id left in training mode (BatchNorm stats move)
    cid_passes: Literal["joint", "per-branch"] | None = None  # C_id on edit + reconstruction: one batch or two
    critic_target: Literal["shared", "separate"] | None = None  # the critic's fake and G's edit: one AU draw or two
    cid_batch_size: int | None = None  # C_id pre-training batch (paper: not given, 32; authors' pretrain: 8)


VARIANT_DEFAULTS: dict[str, dict[str, Any]] = {
    "paper": {
        "latent_size": 128,
        "lambda_exp": 100.0,
        "lambda_id": 60.0,
        "lambda_per": 20.0,
        "lambda_rec": 100.0,
        "lambda_msssim": None,  # = lambda_rec
        "lambda_gp": 20.0,
        "architecture": "paper",
        "adversarial": "wgan-gp",
        "au_discretisation": "round",
        "encoder_adversarial": True,
        "critic_fake": "edit",
        "reconstruction_terms": False,
        "msssim": "standard",
        "perceptual_input": "imagenet",
        "lr_schedule": "linear",
        "cid_bn_updates": False,
        "cid_passes": "joint",
        "critic_target": "shared",
        "cid_batch_size": 32,
    },
    "official": {  # runner.sh as published (DISFA), eggan-official.md
        "latent_size": 512,
        "lambda_exp": 10.0,
        "lambda_id": 50.0,
        "lambda_per": 10.0,
        "lambda_rec": 100.0,
        "lambda_msssim": 50.0,
        "lambda_gp": 10.0,
        "architecture": "official",
        "adversarial": "least-squares",
        "au_discretisation": "truncate",
        "encoder_adversarial": False,
        "critic_fake": "prior",
        "reconstruction_terms": True,
        "msssim": "official",
        "perceptual_input": "raw",
        "lr_schedule": "epochwise",
        "cid_bn_updates": True,
        "cid_passes": "per-branch",
        "critic_target": "separate",
        "cid_batch_size": 8,
    },
}
VARIANT_FIELDS: tuple[str, ...] = tuple(VARIANT_DEFAULTS["paper"])


def resolve(config: EggANConfig) -> EggANConfig:
    """A copy with every variant-dependent field filled in, after checking the values."""
    if config.variant not in VARIANT_DEFAULTS:
        raise ConfigError(f"model.variant must be paper or official, not {config.variant!r}")
    defaults = VARIANT_DEFAULTS[config.variant]
    values = {name: getattr(config, name) for name in VARIANT_FIELDS}
    values = {name: defaults[name] if value is None else value for name, value in values.items()}
    if values["lambda_msssim"] is None:
        values["lambda_msssim"] = values["lambda_rec"]
    out = dataclasses.replace(config, **values, classifier_depth=tuple(config.classifier_depth),
                              betas=tuple(config.betas), betas_exp=tuple(config.betas_exp))
    check(out)
    return out


def check(config: EggANConfig) -> None:
    if config.width <= 0 or config.latent_size is None or config.latent_size < 1:
        raise ConfigError("model.width and model.latent_size must be positive")
    for name in ("critic_width", "coder_width"):
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise ConfigError(f"model.{name} must be positive, not {value}")
    if config.norm not in ("instance", "batch"):
        raise ConfigError(f"model.norm must be instance or batch, not {config.norm!r}")
    if config.architecture == "official" and (config.norm != "instance" or config.critic_width is not None
                                              or config.coder_width is not None or config.latent_grid != 1
                                              or config.critic_condition != "none"
                                              or config.au_injection != "input"):
        raise ConfigError("model.norm, model.critic_width, model.coder_width, model.latent_grid, "
                          "model.critic_condition and model.au_injection apply to the paper architecture only")
    grid = config.latent_grid
    if grid < 1 or grid & (grid - 1) or config.latent_size % (grid * grid):
        raise ConfigError(f"model.latent_grid must be a power of two whose square divides model.latent_size "
                          f"({config.latent_size}), not {grid}")
    if config.au_injection == "every-block" and grid == 1:
        raise ConfigError("model.au_injection=every-block needs model.latent_grid > 1: it up-samples the grid's AU map")
    if config.n_critic < 1 or config.cid_epochs < 0 or config.cid_batch_size < 1 or config.schedule_epochs < 1:
        raise ConfigError("model.n_critic, cid_batch_size and schedule_epochs must be >= 1, cid_epochs >= 0")
    if not 0.0 < config.perceptual_width <= 1.0:
        raise ConfigError(f"model.perceptual_width must lie in (0, 1], not {config.perceptual_width}")
    if config.perceptual_trunk not in ("vgg19", "face"):
        raise ConfigError(f"model.perceptual_trunk must be vgg19 or face, not {config.perceptual_trunk!r}")
    if config.perceptual_width < 1.0 and not config.allow_random_vgg and config.perceptual_trunk == "vgg19":
        raise ConfigError("model.perceptual_width < 1 builds a random trunk; it needs model.allow_random_vgg=true")
    if config.cexp_epochs < 0 or config.cexp_freeze_at < 0:
        raise ConfigError(f"model.cexp_epochs and cexp_freeze_at must be >= 0, not {config.cexp_epochs} and "
                          f"{config.cexp_freeze_at}")
    if not 0.0 <= config.decay_start <= 1.0:
        raise ConfigError(f"model.decay_start must lie in [0, 1], not {config.decay_start}")
    weights = ("lambda_exp", "lambda_id", "lambda_per", "lambda_rec", "lambda_msssim", "lambda_gp", "lambda_z",
               "classifier_weight_scale")
    for name in weights:
        if getattr(config, name) < 0:
            raise ConfigError(f"model.{name} must be >= 0, not {getattr(config, name)}")
    if len(config.classifier_depth) != len(VGG19_DEPTH) or min(config.classifier_depth) < 1:
        raise ConfigError(f"model.classifier_depth needs {len(VGG19_DEPTH)} positive conv counts")


def differences(config: EggANConfig) -> dict[str, Any]:
    """The resolved variant-dependent values, for metadata and the variants table."""
    return {name: getattr(config, name) for name in VARIANT_FIELDS}
