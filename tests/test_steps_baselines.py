"""The baselines' training steps as their authors' code computes them, term by term.

Like ``test_steps_eggan``: one recorded iteration of each baseline's ``smoke`` preset (the authors'
loss weights and update order), every loss written here by hand from the authors' definitions
(``stargan.md``, ``ganimation.md``, ``homointerp.md``) on the tensors the method fed its networks,
compared with the logged terms and with the gradients each optimiser applied.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from method_checks import build
from step_recorder import Record, assert_same_gradients, gradients, on_segment, penalty, record

from eggan.core.method import Method
from eggan.data.dataset import Batch, load_dataset

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def one_step(name: str, data: Path, step: int, seed: int = 3) -> tuple[Method, Batch, Record, dict]:
    """Iteration ``step`` of ``name``'s smoke preset on the eight expressions of one training person."""
    method, train = build(name, data)
    batch = train.batch(torch.arange(8))
    assert sorted(batch.expression.tolist()) == list(range(8))
    torch.manual_seed(seed)
    with record(method) as log:
        out = method.train_step(batch, step)
    return method, batch, log, out


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return -logits.log_softmax(1).gather(1, labels[:, None]).mean()


def close(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), f"{what}: logged {float(a):.6g}, by hand {float(b):.6g}"


# --- StarGAN (stargan.md section 2) --------------------------------------------------------------


@pytest.fixture(scope="module")
def stargan(tiny_dataset: Path) -> tuple[Method, Batch, Record, dict]:
    return one_step("stargan", tiny_dataset, step=4)  # n_critic 5: the fifth iteration updates G too


def test_stargan_targets_are_a_permutation_of_the_batchs_labels(stargan) -> None:
    _, batch, log, _ = stargan
    source, target = batch.expression, log.of("G")[0].args[1].argmax(1)
    assert torch.equal(log.of("G")[0].args[1], torch.eye(8)[target])  # one-hot
    assert sorted(target.tolist()) == sorted(source.tolist())
    assert not torch.equal(target, source)  # permuted (this seed's permutation is not the identity)


def test_stargan_critic_step(stargan) -> None:
    """L_D = -mean D(x) + mean D(G(x, c_trg)) + 1 CE(D_cls(x), label_org) + 10 GP."""
    _, batch, log, out = stargan
    x, n = batch.image, len(batch)
    fake_call = log.of("G")[0]
    assert torch.equal(fake_call.args[0], x)
    real, fake, mixed = log.of("D")[0].args[0].split(n)
    assert torch.equal(real, x) and torch.equal(fake, fake_call.output)
    on_segment(mixed, real, fake)
    critic = log.update("D").nets["D"]
    src_real, cls_real = critic(x)
    terms = {"d_real": -src_real.mean(), "d_fake": critic(fake)[0].mean(),
             "d_cls": cross_entropy(cls_real, batch.expression), "d_gp": penalty(lambda m: critic(m)[0], mixed)}
    for name, value in terms.items():
        close(out[name], value, name)
    loss = terms["d_real"] + terms["d_fake"] + terms["d_cls"] + 10 * terms["d_gp"]
    assert_same_gradients(log.update("D").grads, gradients(loss, critic), "D")


def test_stargan_generator_step(stargan) -> None:
    """L_G = -mean D(G(x, c_trg)) + 10 |x - G(G(x, c_trg), c_org)|_1 + 1 CE(D_cls(G(x, c_trg)), label_trg)."""
    _, batch, log, out = stargan
    x = batch.image
    c_trg = log.of("G")[0].args[1]
    c_org = torch.eye(8)[batch.expression]
    assert torch.equal(log.of("G")[1].args[1], c_org)  # the cycle goes back to the source's label
    nets = log.update("G").nets  # D as updated by this iteration's critic step
    generator, critic = nets["G"], nets["D"]
    fake = generator(x, c_trg)
    src, cls = critic(fake)
    terms = {"g_fake": -src.mean(), "g_cls": cross_entropy(cls, c_trg.argmax(1)),
             "g_rec": (x - generator(fake, c_org)).abs().mean()}
    for name, value in terms.items():
        close(out[name], value, name)
    loss = terms["g_fake"] + 10 * terms["g_rec"] + terms["g_cls"]
    assert_same_gradients(log.update("G").grads, gradients(loss, generator), "G")
    assert log.stepped() == ["D", "G"]


# --- GANimation (ganimation.md section 3.3) ------------------------------------------------------


@pytest.fixture(scope="module")
def ganimation(tiny_dataset: Path) -> tuple[Method, Batch, Record, dict]:
    return one_step("ganimation", tiny_dataset, step=4)


def compose(image: torch.Tensor, colour: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """A keeps the input pixel, 1 - A takes the regressed colour."""
    return attention * image + (1 - attention) * colour


def total_variation(mask: torch.Tensor) -> torch.Tensor:
    return mask.diff(dim=-1).abs().sum() + mask.diff(dim=-2).abs().sum()


def test_ganimation_targets_are_a_training_images_aus_plus_noise_on_the_fifth_scale(ganimation,
                                                                                    tiny_dataset: Path) -> None:
    method, batch, log, _ = ganimation
    y_trg = log.of("G")[0].args[1]
    bank = method.au_bank
    assert torch.allclose(bank * 5, load_dataset(tiny_dataset, 32).split("train").aus, atol=1e-6)
    nearest = bank[torch.cdist(y_trg, bank).argmin(1)]
    noise = y_trg - nearest
    assert noise.abs().max() <= 0.1 + 1e-6 and noise.min() < -0.03 and noise.max() > 0.03
    assert torch.allclose(log.of("G")[1].args[1], batch.aus / 5)  # the cycle's condition: the real AUs / 5


def test_ganimation_first_critic_step(ganimation) -> None:
    """-mean D(x) + mean D(fake) + 4000 MSE(D_y(x), y_real) / batch; the penalty is a step of its own."""
    _, batch, log, out = ganimation
    x, n = batch.image, len(batch)
    colour, mask = log.of("G")[0].output
    fake = compose(x, colour, mask)
    real, fake_seen = log.of("D")[0].args[0].split(n)
    assert torch.equal(real, x) and torch.allclose(fake_seen, fake, atol=1e-6)
    critic = log.update("D", 0).nets["D"]
    src, cond = critic(x)
    terms = {"d_real": -src.mean(), "d_fake": critic(fake_seen)[0].mean(),
             "d_cond": ((cond - batch.aus / 5) ** 2).mean() / n * 4000}
    for name, value in terms.items():
        close(out[name], value, name)
    assert_same_gradients(log.update("D", 0).grads, gradients(sum(terms.values()), critic), "D (losses)")


def test_ganimation_penalty_step(ganimation) -> None:
    _, batch, log, out = ganimation
    x, n = batch.image, len(batch)
    fake = log.of("D")[0].args[0][n:]
    (mixed,) = log.of("D")[1].args
    on_segment(mixed, x, fake)
    critic = log.update("D", 1).nets["D"]  # after the first critic update
    gp = 10 * penalty(lambda m: critic(m)[0], mixed)
    close(out["d_gp"], gp, "d_gp")
    assert_same_gradients(log.update("D", 1).grads, gradients(gp, critic), "D (penalty)")


def test_ganimation_generator_step(ganimation) -> None:
    """-mean D(fake) + 4000 MSE(D_y(fake), y_trg) / batch + 10 L1(cycle, x) + 0.1 (mean A + mean A_cycle)
    + 1e-5 (TV(A) + TV(A_cycle))."""
    _, batch, log, out = ganimation
    x, n = batch.image, len(batch)
    y_trg, y_real = log.of("G")[0].args[1], batch.aus / 5
    nets = log.update("G").nets
    generator, critic = nets["G"], nets["D"]
    colour, mask = generator(x, y_trg)
    fake = compose(x, colour, mask)
    src, cond = critic(fake)
    back_colour, back_mask = generator(fake, y_real)
    terms = {"g_fake": -src.mean(), "g_cond": ((cond - y_trg) ** 2).mean() / n * 4000,
             "g_cyc": (compose(fake, back_colour, back_mask) - x).abs().mean(),
             "g_mask": 0.1 * (mask.mean() + back_mask.mean()),
             "g_smooth": 1e-5 * (total_variation(mask) + total_variation(back_mask))}
    for name, value in terms.items():
        close(out[name], value, name)
    loss = terms["g_fake"] + terms["g_cond"] + 10 * terms["g_cyc"] + terms["g_mask"] + terms["g_smooth"]
    assert_same_gradients(log.update("G").grads, gradients(loss, generator), "G")
    assert log.stepped() == ["D", "D", "G"]


# --- HomoInterpGAN (homointerp.md section 2.2) ---------------------------------------------------


@pytest.fixture(scope="module")
def homointerp(tiny_dataset: Path) -> tuple[Method, Batch, Record, dict]:
    return one_step("homointerp", tiny_dataset, step=0)  # step 0: E and I update too


def bce_sum(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The authors' classification loss: sigmoid BCE summed over labels and divided by the batch."""
    p = torch.sigmoid(logits)
    return -(target * p.log() + (1 - target) * (1 - p).log()).sum() / len(logits)


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a - b) ** 2).mean()


def homointerp_inputs(method: Method, batch: Batch, log: Record) -> dict[str, torch.Tensor]:
    """The step's latents, reference permutation, strengths and labels, read off the recorded calls."""
    x = ((batch.image + 1) / 2 - IMAGENET_MEAN) / IMAGENET_STD
    encoded = log.of("E")[0]
    assert torch.allclose(encoded.args[0], x, atol=1e-6)
    f = encoded.output
    source, reference, v = log.of("I")[0].args
    assert torch.equal(source, f)
    perm = torch.tensor([next(j for j in range(len(f)) if torch.equal(f[j], row)) for row in reference])
    assert sorted(perm.tolist()) == list(range(len(f)))
    a = torch.eye(8)[batch.expression]
    teacher = method.nets["T"]
    p_x = teacher.features_1(x)
    return {"x": x, "f": f, "z": log.of("I")[0].output, "perm": perm, "v": v, "a": a,
            "a_interp": a + v[:, :1] * (a[perm] - a), "p_x": p_x, "t": teacher.beyond_relu3_1(p_x)}


def test_homointerp_decoder_critic_and_guidance_steps(homointerp) -> None:
    """G: MSE(G(f), x) + MSE(P(G(f)), P(x)); D: mean D(z) - mean D(f) + 100 GP + BCE(D_cls(z), a) (the
    released code: interpolated latents, source labels); KGT: MSE(KGT(f), T(x))."""
    method, batch, log, out = homointerp
    s = homointerp_inputs(method, batch, log)
    n, teacher = len(batch), method.nets["T"]
    decoder = log.update("G").nets["G"]
    rec = decoder(s["f"])
    decoder_terms = {"dec_pixel": mse(rec, s["x"]), "dec_perceptual": mse(teacher.features_1(rec), s["p_x"])}
    for name, value in decoder_terms.items():
        close(out[name], value, name)
    assert_same_gradients(log.update("G").grads, gradients(sum(decoder_terms.values()), decoder), "G")

    z, f, mixed = log.of("D")[0].args[0].split(n)
    assert torch.equal(z, s["z"]) and torch.equal(f, s["f"])
    on_segment(mixed, f, z)
    critic = log.update("D").nets["D"]
    score_z, logits_z = critic(z)
    critic_terms = {"d_adv": score_z.mean() - critic(f)[0].mean(), "d_gp": penalty(lambda m: critic(m)[0], mixed),
                    "d_cls": bce_sum(logits_z, s["a"])}
    for name, value in critic_terms.items():
        close(out[name], value, name)
    loss = critic_terms["d_adv"] + 100 * critic_terms["d_gp"] + critic_terms["d_cls"]
    assert_same_gradients(log.update("D").grads, gradients(loss, critic), "D")

    guidance = log.update("KGT").nets["KGT"]
    kg = mse(guidance(s["f"]), s["t"])
    close(out["kg"], kg, "kg")
    assert_same_gradients(log.update("KGT").grads, gradients(kg, guidance), "KGT")


def test_homointerp_encoder_interpolator_step(homointerp) -> None:
    """E and I: -mean D(z) + BCE(D_cls(z), a_interp) + MSE(I(f', f'[perm], 1), f'[perm]) (f' detached)
    + the decoder's and the guidance terms, with G, D and KGT as this iteration left them."""
    method, batch, log, out = homointerp
    s = homointerp_inputs(method, batch, log)
    assert torch.equal(log.of("I")[2].args[2], torch.ones_like(s["v"]))  # "interpolate all": every strength 1
    nets = log.update("E").nets
    encoder, interp, critic = nets["E"], nets["I"], nets["D"]
    teacher = method.nets["T"]
    f = encoder(s["x"])
    score, logits = critic(interp(f, f[s["perm"]], s["v"]))
    fixed = f.detach()
    rec = nets["G"](f)
    terms = {"ei_adv": -score.mean(), "ei_cls": bce_sum(logits, s["a_interp"]),
             "ei_interp_all": mse(interp(fixed, fixed[s["perm"]], torch.ones_like(s["v"])), fixed[s["perm"]]),
             "ei_rec": mse(rec, s["x"]) + mse(teacher.features_1(rec), s["p_x"]),
             "ei_kg": mse(nets["KGT"](f), s["t"])}
    for name, value in terms.items():
        close(out[name], value, name)
    loss = sum(terms.values())
    assert_same_gradients(log.update("E").grads, gradients(loss, encoder), "E")
    assert_same_gradients(log.update("I").grads, gradients(loss, interp), "I")
    assert log.stepped() == ["G", "D", "KGT", "E", "I"]


def test_homointerp_updates_e_and_i_every_fifth_step_from_step_0(tiny_dataset: Path) -> None:
    method, train = build("homointerp", tiny_dataset)
    batch = train.batch(torch.arange(8))
    stepped = []
    for step in range(6):
        with record(method, snapshots=False) as log:
            method.train_step(batch, step)
        stepped.append("E" in log.stepped())
    assert stepped == [True, False, False, False, False, True]
