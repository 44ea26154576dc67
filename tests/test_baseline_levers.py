"""Issue 19's recipe settings of the baselines each do what their name says: StarGAN's R1 loss,
moving average, reconstruction warm-up and identity term; HomoInterpGAN's latent layer and
moving averages. Expected values are computed here from the definitions, not by the code."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from method_checks import build, check_resume_is_exact

from baselines.homointerp_nets import Decoder, LatentCritic, VGGEncoder
from eggan.core.gan import logistic_critic_loss, logistic_generator_loss, r1_penalty
from eggan.core.method import DataInfo, Method
from eggan.core.registry import get_method
from eggan.core.vgg import imagenet_normalise
from eggan.data.dataset import FaceDataset, Target
from eggan.errors import ConfigError


# --- the R1 pieces -------------------------------------------------------------------------------
def test_r1_is_the_squared_input_gradient_norm_per_sample() -> None:
    """D(x) = sum x^2 / 2 per sample: the input gradient is x, so R1 is the batch mean of ||x||^2;
    D(x) = w . x: the gradient is w everywhere, so R1 is ||w||^2 (and differentiable in w)."""
    real = torch.zeros(2, 1, 2, 2)
    real[0, 0, 0, 0], real[0, 0, 1, 1], real[1, 0, 0, 1] = 3.0, 4.0, 1.0  # ||x_0||^2 = 25, ||x_1||^2 = 1
    real.requires_grad_(True)
    assert float(r1_penalty((real**2 / 2).flatten(1).sum(1), real).detach()) == pytest.approx(13.0)
    w = torch.tensor([1.0, 2.0, 0.0, 2.0]).view(1, 1, 2, 2).requires_grad_(True)
    x = torch.randn(3, 1, 2, 2, requires_grad=True)
    penalty = r1_penalty((x * w).flatten(1).sum(1), x)
    assert float(penalty.detach()) == pytest.approx(9.0)
    (grad_w,) = torch.autograd.grad(penalty, w)
    assert torch.allclose(grad_w, 2 * w.detach())


def test_the_logistic_losses_reward_the_right_side() -> None:
    confident_real, confident_fake = torch.full((4,), 20.0), torch.full((4,), -20.0)
    assert float(logistic_critic_loss(confident_real, confident_fake)) < 1e-6
    assert float(logistic_critic_loss(confident_fake, confident_real)) == pytest.approx(40.0, rel=1e-4)
    assert float(logistic_critic_loss(torch.zeros(3), torch.zeros(3))) == pytest.approx(2 * math.log(2.0))
    assert float(logistic_generator_loss(confident_real)) < 1e-6  # the critic believes the fake: G is done
    assert float(logistic_generator_loss(confident_fake)) == pytest.approx(20.0, rel=1e-4)


# --- StarGAN -------------------------------------------------------------------------------------
def stargan(data: Path, *overrides: str, seed: int = 0) -> tuple[Method, FaceDataset]:
    """The smoke preset with a generator step every iteration, built and pre-trained."""
    return build("stargan", data, seed=seed, overrides=("model.n_critic=1", *overrides))


def test_stargan_r1_penalises_the_critics_gradient_on_real_images(tiny_dataset: Path) -> None:
    method, train = stargan(tiny_dataset, "model.adversarial=r1", "model.r1_gamma=4", "model.n_critic=1000")
    batch = train.batch(torch.arange(4))
    critic = copy.deepcopy(method.nets["D"])
    real = batch.image.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(real)[0].flatten(1).mean(1).sum(), real)
    expected = grad.flatten(1).pow(2).sum(1).mean()
    losses = method.train_step(batch, step=0)
    assert set(losses) == {"d_adv", "d_cls", "d_r1"}  # no WGAN terms, no gradient penalty on mixed images
    assert float(losses["d_r1"]) == pytest.approx(float(expected), rel=1e-4)

    def r1_after(gamma: float) -> float:
        """The critic's R1 on real images after 8 critic steps with this gamma (same seed, same data)."""
        m, _ = stargan(tiny_dataset, "model.adversarial=r1", f"model.r1_gamma={gamma}", "model.n_critic=1000",
                       "model.lambda_cls=0", "model.lr=1e-3")
        for step in range(8):
            m.train_step(batch, step)
        x = batch.image.clone().requires_grad_(True)
        return float(r1_penalty(m.nets["D"](x)[0].flatten(1).mean(1), x).detach())

    # The penalty is added to the critic's loss: a large gamma keeps its gradient at real images
    # far smaller than no penalty does (with the sign flipped it would grow instead).
    assert r1_after(1000.0) < 0.5 * r1_after(0.0)


def test_stargan_wgan_gp_stays_the_authors_loss(tiny_dataset: Path) -> None:
    method, train = stargan(tiny_dataset)
    losses = method.train_step(train.batch(torch.arange(4)), step=0)
    assert {"d_real", "d_fake", "d_gp", "g_fake", "g_rec"} <= set(losses) and "d_r1" not in losses
    deviations = " | ".join(method.metadata()["deviations"])
    assert "R1" not in deviations and "moving average" not in deviations and "identity" not in deviations


def test_stargan_translates_with_the_moving_average_of_g(tiny_dataset: Path) -> None:
    method, train = stargan(tiny_dataset, "model.ema_half_life=20")
    live, average = method.nets["G"], method.nets["G_ema"]
    batch = train.batch(torch.arange(4))
    for step in range(197, 200):  # late steps: the ramp-up no longer shortens the half-life to ~0
        method.train_step(batch, step)
    source, target = train.batch(torch.arange(3)), Target.from_batch(train.batch(torch.arange(3, 6)))
    out = method.translate(source.image, target)
    with torch.no_grad():
        by_average = average.eval()(source.image, method.one_hot(target.expression)).clamp(-1, 1)
        by_live = live.eval()(source.image, method.one_hot(target.expression)).clamp(-1, 1)
    assert torch.equal(out, by_average) and not torch.allclose(out, by_live)
    assert "moving average of G" in " | ".join(method.metadata()["deviations"])


def test_stargan_reconstruction_warmup_teaches_g_to_give_back_its_input(tiny_dataset: Path) -> None:
    cold, train = stargan(tiny_dataset)
    warm, _ = stargan(tiny_dataset, "model.rec_warmup_steps=30", "model.lr=2e-3")
    batch = train.batch(torch.arange(len(train)))

    def l1(method: torch.nn.Module) -> float:
        with torch.no_grad():
            return float((method.nets["G"](batch.image, method.one_hot(batch.expression)) - batch.image).abs().mean())

    assert l1(warm) < 0.6 * l1(cold)
    assert warm.metadata()["rec_warmup"]["final_l1"] is not None and cold.metadata()["rec_warmup"]["final_l1"] is None
    # No warm-up leaves G exactly as initialised (same seed, same networks).
    fresh, _ = stargan(tiny_dataset, "model.rec_warmup_steps=0")
    for a, b in zip(fresh.nets["G"].parameters(), cold.nets["G"].parameters(), strict=True):
        assert torch.equal(a, b)


def test_stargan_identity_term_is_g_of_the_source_class_against_the_source(tiny_dataset: Path) -> None:
    batch_rows = torch.arange(4)
    plain, train = stargan(tiny_dataset, seed=3)
    with_id, _ = stargan(tiny_dataset, "model.lambda_id=5", seed=3)
    batch = train.batch(batch_rows)
    generator = copy.deepcopy(with_id.nets["G"])
    with torch.no_grad():
        expected = float((generator(batch.image, with_id.one_hot(batch.expression)) - batch.image).abs().mean())
    torch.manual_seed(7)
    a = plain.train_step(batch, step=0)
    torch.manual_seed(7)
    b = with_id.train_step(batch, step=0)
    assert "g_id" not in a and float(b["g_id"]) == pytest.approx(expected, rel=1e-5)
    # The identity pass shares the cycle's call: the cycle term is unchanged by it.
    assert float(a["g_rec"]) == pytest.approx(float(b["g_rec"]), rel=1e-5)


@pytest.mark.parametrize("noise", [0.0, 0.4])
def test_stargan_instance_noise_reaches_every_image_the_critic_reads(tiny_dataset: Path, noise: float) -> None:
    """model.instance_noise: the critic step's real and fake images and the generator step's fake
    all reach D with noise added, each of a standard deviation within [0, noise]; at 0 D reads them
    as they are (the authors')."""
    method, train = stargan(tiny_dataset, f"model.instance_noise={noise}", "model.adversarial=r1")
    batch = train.batch(torch.arange(4))
    seen: list[torch.Tensor] = []
    fakes: list[torch.Tensor] = []
    method.nets["D"].register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    method.nets["G"].register_forward_hook(lambda _m, _args, out: fakes.append(out.detach().clone()))
    method.train_step(batch, step=0)
    n = len(batch)
    critic_real, critic_fake, generator_fake = seen[0][:n], seen[0][n:], seen[1]
    for image, reaching_d in ((batch.image, critic_real), (fakes[0], critic_fake), (fakes[0], generator_fake)):
        added = (reaching_d - image).flatten(1).std(1)
        assert bool((added > 0).all()) is (noise > 0) and float(added.max()) <= noise * 1.1
    assert ("instance noise" in " | ".join(method.metadata()["deviations"])) is (noise > 0)


def test_stargan_settings_resume_exactly(tiny_dataset: Path, tmp_path: Path) -> None:
    check_resume_is_exact("stargan", tiny_dataset, tmp_path, 4, "model.adversarial=r1", "model.ema_half_life=5",
                          "model.rec_warmup_steps=2", "model.lambda_id=2")


def test_stargan_refuses_an_unknown_adversarial_loss(tiny_dataset: Path) -> None:
    with pytest.raises(ConfigError, match="adversarial"):
        stargan(tiny_dataset, "model.adversarial=hinge")


# --- HomoInterpGAN -------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, side, channels", [("relu5_1", 2, 128), ("relu4_1", 4, 128), ("relu3_1", 8, 64)])
def test_homointerp_latent_layer_sets_the_grid(layer: str, side: int, channels: int) -> None:
    """At 32 px and width 0.25: relu5_1 is the authors' layer (2x2 here), relu3_1 keeps their 8x8."""
    encoder, decoder = VGGEncoder(0.25, layer), Decoder(0.25, layer)
    latent = encoder(torch.rand(2, 3, 32, 32))
    assert latent.shape == (2, channels, side, side)
    assert decoder(latent).shape == (2, 3, 32, 32)
    ups = sum(isinstance(m, torch.nn.Upsample) for m in decoder.modules())
    assert ups == {2: 4, 4: 3, 8: 2}[side]  # one upsampling per max-pool of the encoder
    scores, logits = LatentCritic(side, 8, 0.25, layer)(latent)
    assert scores.shape == (2, 64) and logits.shape == (2, 8)


def test_homointerp_relu3_1_latent_is_the_first_vgg_block() -> None:
    """A relu3_1 encoder is the deeper encoder's first block, weight for weight and value for value."""
    deep, shallow = VGGEncoder(0.25), VGGEncoder(0.25, "relu3_1")
    shallow.load_state_dict({k: v for k, v in deep.state_dict().items() if k.startswith("features_1.")})
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(shallow(x), deep.features_1(x))
    assert not hasattr(shallow, "features_2")


def test_homointerp_authors_layer_keeps_the_authors_parameters() -> None:
    """The default (relu5_1) networks keep the authors' parameter names and counts (homointerp_nets)."""
    assert sum(p.numel() for p in Decoder().parameters()) == 6_201_603
    assert sum(p.numel() for p in VGGEncoder().parameters()) == 12_944_960


def test_homointerp_trains_and_translates_at_relu3_1_with_moving_averages(tiny_dataset: Path) -> None:
    method, train = build("homointerp", tiny_dataset, overrides=("model.latent_layer=relu3_1",
                                                                 "model.ema_half_life=20"))
    assert {"E_ema", "I_ema", "G_ema"} <= set(method.nets)
    batch = train.batch(torch.arange(4))
    for step in range(195, 200):  # late steps (no ramp-up), E and I updated at 195
        losses = method.train_step(batch, step)
    assert all(torch.isfinite(v) for v in losses.values())
    for name in ("E", "I", "G"):
        assert not torch.equal(next(method.nets[name].parameters()), next(method.nets[f"{name}_ema"].parameters()))
    source, target = train.batch(torch.arange(3)), Target.from_batch(train.batch(torch.arange(3, 6)))
    out = method.translate(source.image, target)
    with torch.no_grad():  # replacing the live networks changes nothing translate returns
        for name in ("E", "I", "G"):
            for p in method.nets[name].parameters():
                p.add_(0.5)
    assert torch.equal(method.translate(source.image, target), out)
    deviations = " | ".join(method.metadata()["deviations"])
    assert "latent at relu3_1" in deviations and "moving averages of E, I and G" in deviations


def test_homointerp_r1_is_the_logistic_loss_with_r1_on_real_latents(tiny_dataset: Path) -> None:
    """With ``adversarial=r1`` the latent critic's step is softplus(-D(f)) + softplus(D(z)) on the
    mean of its scores, R1 on the *real* latents f (not the interpolated ones), and no penalty on
    mixed latents."""
    method, train = build("homointerp", tiny_dataset, overrides=("model.latent_layer=relu3_1",
                                                                 "model.adversarial=r1", "model.n_discrim=1"))
    batch = train.batch(torch.arange(4))
    critic, encoder, interp = (copy.deepcopy(method.nets[name]) for name in ("D", "E", "I"))
    torch.manual_seed(3)
    rng = torch.get_rng_state()
    v, perm = torch.rand(4, method.n_branch), torch.randperm(4)  # the step's draws, in its order
    with torch.no_grad():
        f = encoder(imagenet_normalise(batch.image))
        z = interp(f, f[perm], v)
    real = f.clone().requires_grad_(True)
    real_logit = critic(real)[0].mean(1)
    (grad,) = torch.autograd.grad(real_logit.sum(), real)
    fake_logit = critic(z)[0].mean(1)
    expected_adv = F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()
    torch.set_rng_state(rng)
    losses = method.train_step(batch, step=0)
    assert {"d_adv", "d_r1", "d_cls"} <= set(losses) and "d_gp" not in losses
    assert float(losses["d_r1"]) == pytest.approx(float(grad.flatten(1).pow(2).sum(1).mean()), rel=1e-4)
    assert float(losses["d_adv"]) == pytest.approx(float(expected_adv.detach()), rel=1e-5)
    deviations = " | ".join(method.metadata()["deviations"])
    assert "R1 on real latents" in deviations


def test_homointerp_identity_group_targets_the_source_person_where_its_strength_is_zero(tiny_dataset: Path) -> None:
    """``identity_group``: a third branch and identity logits after the expression logits. E and I
    are pushed towards a_g + v_g (a'_g - a_g) per group, each group with its own branch strength,
    so an edit at strength (1, 0, 0), the test-time transfer, must keep the source's identity.
    The expression logits keep the authors' summed sigmoid BCE, the identity logits take softmax
    cross-entropy."""
    method, train = build("homointerp", tiny_dataset, overrides=("model.latent_layer=relu3_1",
                                                                 "model.identity_group=true", "model.n_discrim=1",
                                                                 "model.classifier_on=real"))
    n_ids = len(train.identities)
    assert method.n_branch == 3 and len(method.nets["I"].branches) == 3
    people = train.batch(torch.arange(len(train))).identity
    batch = train.batch(torch.stack([torch.nonzero(people == p)[0, 0] for p in range(4)]))  # four people
    perm = torch.tensor([1, 0, 3, 2])
    v = torch.tensor([[1.0, 0.0, 0.5], [0.25, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.0, 0.0]])
    target = method.interpolated_labels(method.labels(batch), perm, v)
    assert target.shape == (4, 8 + n_ids)
    for i in range(4):
        j = int(perm[i])
        expected = torch.zeros(8 + n_ids)
        expected[int(batch.expression[i])] += 1 - float(v[i, 0])
        expected[int(batch.expression[j])] += float(v[i, 0])
        expected[8 + int(batch.identity[i])] += 1 - float(v[i, 1])
        expected[8 + int(batch.identity[j])] += float(v[i, 1])
        assert torch.allclose(target[i], expected), i
    assert target[0, 8 + int(batch.identity[0])] == 1 and target[0, 8 + int(batch.identity[1])] == 0  # v_id = 0
    critic = copy.deepcopy(method.nets["D"])
    torch.manual_seed(5)
    rng = torch.get_rng_state()
    v_step, perm_step = torch.rand(4, 3), torch.randperm(4)
    with torch.no_grad():
        f = method.nets["E"](imagenet_normalise(batch.image))
        z = method.nets["I"](f, f[perm_step], v_step)
    a = torch.cat(method.labels(batch), dim=1)
    logits = critic(f)[1]  # classifier_on=real: D's classifier reads the real latents
    expected_cls = (F.binary_cross_entropy_with_logits(logits[:, :8], a[:, :8], reduction="sum") / 4
                    - (a[:, 8:] * logits[:, 8:].log_softmax(1)).sum(1).mean())  # identity: softmax CE
    torch.set_rng_state(rng)
    losses = method.train_step(batch, step=0)
    assert float(losses["d_cls"]) == pytest.approx(float(expected_cls.detach()), rel=1e-5)
    assert critic(z)[1].shape == (4, 8 + n_ids)
    source, reference = train.batch(torch.arange(2)), Target.from_batch(train.batch(torch.arange(2, 4)))
    assert method.translate(source.image, reference).shape == source.image.shape
    assert any("training identities" in d for d in method.metadata()["deviations"])


def test_homointerp_refuses_an_unknown_adversarial_loss() -> None:
    config = get_method("homointerp").preset("smoke").model
    config.latent_layer, config.adversarial = "relu3_1", "hinge"
    with pytest.raises(ConfigError, match=r"model\.adversarial must be 'wgan-gp' or 'r1', not 'hinge'"):
        get_method("homointerp")(config, DataInfo(16, 4), 10, torch.device("cpu"))


def test_homointerp_refuses_a_latent_too_small_for_the_critic() -> None:
    config = get_method("homointerp").preset("smoke").model
    config.latent_layer = "relu5_1"
    with pytest.raises(ConfigError, match="latent_layer"):
        get_method("homointerp")(config, DataInfo(16, 4), 10, torch.device("cpu"))


def test_the_paper_presets_keep_every_setting_off() -> None:
    for name in ("stargan", "homointerp"):
        model = get_method(name).preset("paper").model
        assert model.ema_half_life == 0, name
    star = get_method("stargan").preset("paper").model
    assert (star.adversarial, star.rec_warmup_steps, star.lambda_id, star.lambda_rec, star.instance_noise) == (
        "wgan-gp", 0, 0, 10, 0)
    for name in ("quick", "standard"):  # docs/baseline-recipes.md, rows s4, slr, slr1, slrs
        model = get_method("stargan").preset(name).model
        assert (model.instance_noise, model.lr) == (0.4, 5e-4), name
    homo = get_method("homointerp").preset("paper").model
    assert (homo.latent_layer, homo.adversarial, homo.identity_group, homo.n_discrim) == (
        "relu5_1", "wgan-gp", False, 5)
    for name in ("quick", "standard"):  # docs/baseline-recipes.md, rows hi4, hi4s1, his
        model = get_method("homointerp").preset(name).model
        assert (model.identity_group, model.n_discrim) == (True, 1), name
