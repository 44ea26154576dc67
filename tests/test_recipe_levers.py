"""Issue 19's recipe settings each do what their name says: the latent grid, the AUs at every
generator block, the moving averages of E and G, C_exp reading blurred and noised images and
learning from adversarial ones, the projection critic, and the ground-truth monitor that never touches training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from eggan_helpers import smoke_model, smoke_synthfacs

from eggan.core.config import apply_overrides
from eggan.core.imageops import random_noise
from eggan.core.method import EMA_RAMPUP
from eggan.core.train import load_trained, train_run
from eggan.data.dataset import FaceDataset, Target
from eggan.egg.losses import discretise_aus, expression_loss
from eggan.egg.model import EggAN
from eggan.egg.nets_paper import Critic, Encoder, Generator
from eggan.errors import ConfigError
from evaluate.monitor import edit_monitor, read_curves


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> FaceDataset:
    return smoke_synthfacs(tmp_path_factory.mktemp("synth"))


def test_a_latent_grid_keeps_the_code_spatial_and_projects_the_aus_onto_it() -> None:
    encoder, generator = Encoder(32, 128, 0.5, "batch", grid=8), Generator(32, 128, 17, 0.5, "batch", grid=8)
    code = encoder(torch.rand(4, 3, 32, 32))
    assert code.shape == (4, 128)  # a 2 x 8 x 8 map, flattened: D_z and the prior see a vector
    assert len(encoder.features) == 2  # 32 -> 16 -> 8: two stride-2 convolutions
    # The AUs reach G through a linear map with a weight per grid position: changing one AU changes
    # the input map at the positions its weights name, and nowhere else when those weights are zero.
    with torch.no_grad():
        generator.project.weight.zero_()
        generator.project.bias.zero_()
        generator.project.weight[1 * 64 + 3 * 8 + 5, 11] = 1.0  # the 12th AU -> AU map channel 1, row 3, column 5
    seen = {}
    generator.blocks[0].register_forward_pre_hook(lambda _m, args: seen.setdefault("h", args[0]))
    aus = torch.zeros(1, 17)
    aus[0, 11] = 5.0
    generator(code[:1], aus)
    au_map = seen["h"][0, 2:]  # after the code's 2 channels
    assert au_map.abs().sum() == 1.0 and au_map[1, 3, 5] == 1.0
    assert len(generator.blocks) == 3  # the paper's last three blocks: at 8x8, then 16, then 32


def test_au_injection_every_block_gives_each_later_block_the_au_map_upsampled() -> None:
    """model.au_injection=every-block: blocks 1 and 2 (inputs at 8x8 and 16x16) end with the AU map,
    which here is one-hot at channel 1, row 3, column 5 of the 8x8 grid: at 16x16 that is the 2x2
    patch at rows 6-7, columns 10-11."""
    generator = Generator(32, 128, 17, 0.5, "batch", grid=8, au_every_block=True)
    with torch.no_grad():
        generator.project.weight.zero_()
        generator.project.bias.zero_()
        generator.project.weight[1 * 64 + 3 * 8 + 5, 11] = 1.0
    seen: dict[int, torch.Tensor] = {}
    for i in (1, 2):
        generator.blocks[i].register_forward_pre_hook(lambda _m, args, i=i: seen.setdefault(i, args[0]))
    aus = torch.zeros(1, 17)
    aus[0, 11] = 5.0
    generator(torch.rand(1, 128), aus)
    expected_8 = torch.zeros(17, 8, 8)
    expected_8[1, 3, 5] = 1.0
    expected_16 = torch.zeros(17, 16, 16)
    expected_16[1, 6:8, 10:12] = 1.0
    assert torch.equal(seen[1][0, -17:], expected_8) and torch.equal(seen[2][0, -17:], expected_16)
    plain = Generator(32, 128, 17, 0.5, "batch", grid=8)
    assert plain.blocks[1].main[0].num_features + 17 == generator.blocks[1].main[0].num_features
    with pytest.raises(ValueError, match="latent grid"):
        Generator(32, 128, 17, 0.5, au_every_block=True)


@pytest.mark.parametrize(("overrides", "message"), [
    (["model.au_injection=every-block"], "needs model.latent_grid > 1"),
    (["model.au_injection=everywhere"], "au_injection must be one of"),
    (["model.architecture=official", "model.au_injection=every-block"], "paper architecture only")])
def test_au_injection_is_checked(synth: FaceDataset, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        smoke_model(synth.split("train"), *overrides)


def test_au_injection_reaches_the_generator_and_the_metadata(synth: FaceDataset) -> None:
    method = smoke_model(synth.split("train"), "model.latent_grid=2", "model.au_injection=every-block")
    assert method.nets["generator"].au_every_block and method.metadata()["au_injection"] == "every-block"
    assert smoke_model(synth.split("train")).metadata()["au_injection"] == "input"


def test_the_vector_code_keeps_the_papers_layers_and_parameter_names() -> None:
    names = set(Encoder(32, 64, 0.5).state_dict()) | {f"g.{k}" for k in Generator(32, 64, 17, 0.5).state_dict()}
    assert {"fc.weight", "g.project.weight"} <= names and not any("to_grid" in n for n in names)
    assert len(Encoder(32, 64, 0.5).features) == 5


@pytest.mark.parametrize("overrides", [["model.latent_grid=3"], ["model.latent_grid=8", "model.latent_size=100"],
                                       ["model.latent_grid=2", "model.variant=official"]])
def test_a_latent_grid_that_cannot_hold_the_code_is_refused(synth: FaceDataset, overrides: list[str]) -> None:
    with pytest.raises(ConfigError, match="latent_grid"):
        smoke_model(synth.split("train"), *overrides)


def test_the_moving_average_follows_stylegan2_adas_rule(synth: FaceDataset) -> None:
    train = synth.split("train")
    method = smoke_model(train, "model.ema_half_life=10")
    live, average = method.nets["generator"], method.nets["generator_ema"]
    assert not any(p.requires_grad for p in average.parameters())
    before = [p.detach().clone() for p in average.parameters()]
    method.train_step(train.batch(torch.arange(4)), step=99)
    half_life = min(10.0, EMA_RAMPUP * 100)  # the ramp-up still limits it: 5 iterations
    beta = 0.5 ** (1 / half_life)
    for old, new, p in zip(before, average.parameters(), live.parameters(), strict=True):
        assert torch.allclose(new, beta * old + (1 - beta) * p.detach(), atol=1e-6)
    for b_avg, b in zip(average.buffers(), live.buffers(), strict=True):
        assert torch.equal(b_avg, b)  # BatchNorm statistics copied
    # generate() reads the averages: replacing the live networks changes nothing it returns
    source, target = train.batch(torch.arange(3)), train.batch(torch.arange(3, 6))
    out = method.translate(source.image, Target.from_batch(target))
    with torch.no_grad():
        for p in (*live.parameters(), *method.nets["encoder"].parameters()):
            p.add_(1.0)
    assert torch.equal(method.translate(source.image, Target.from_batch(target)), out)


def test_the_averages_are_saved_and_loaded_with_the_checkpoint(synth: FaceDataset, tmp_path: Path) -> None:
    config = apply_overrides(EggAN.preset("smoke"), ["model.ema_half_life=5", "train.steps=4",
                                                     "train.checkpoint_every=4"])
    result = train_run(config, tmp_path / "run", dataset=synth)
    loaded = load_trained(result.checkpoint)
    source = synth.split("test").batch(torch.arange(2))
    assert torch.equal(loaded.translate(source.image, Target.from_batch(source)),
                       result.method.translate(source.image, Target.from_batch(source)))
    assert "generator_ema" in loaded.nets and "encoder_ema" in loaded.nets


@pytest.mark.parametrize("blur, blurred", [(0.0, False), (1.5, True)])
def test_c_exp_reads_blurred_images_when_asked(synth: FaceDataset, blur: float, blurred: bool) -> None:
    train = synth.split("train")
    method = smoke_model(train, f"model.exp_blur={blur}")
    inputs: list[torch.Tensor] = []
    method.nets["c_exp"].register_forward_pre_hook(lambda _m, args: inputs.append(args[0].detach().clone()))
    batch = train.batch(torch.arange(4))
    method.train_step(batch, step=0)
    real, judged = inputs[0], inputs[1]  # C_exp learning on real images, then judging the edit
    assert torch.equal(real, batch.image) is not blurred
    if blurred:  # blurring smooths: neighbouring pixels differ less than in the image
        assert (real.diff(dim=-1).abs().mean() < batch.image.diff(dim=-1).abs().mean())
    assert judged.shape == batch.image.shape


def test_random_noise_gives_each_image_its_own_standard_deviation_up_to_the_maximum() -> None:
    """model.exp_noise: on a flat image the added noise's spread is the drawn standard deviation;
    over 64 images they spread across [0, 0.5] (one value for all, or a fixed 0.5, would fail)."""
    images = torch.zeros(64, 3, 32, 32, dtype=torch.float64)
    torch.manual_seed(0)
    std = random_noise(images, 0.5).flatten(1).std(1)
    assert float(std.max()) < 0.5 * 1.05 and float(std.min()) < 0.05 and float(std.max()) > 0.45
    assert 20 <= int((std < 0.25).sum()) <= 44
    assert torch.equal(random_noise(images, 0.0), images)


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_c_exp_reads_noised_images_when_asked_both_learning_and_judging(synth: FaceDataset, noise: float) -> None:
    train = synth.split("train")
    method = smoke_model(train, f"model.exp_noise={noise}")
    inputs: list[torch.Tensor] = []
    outputs: list[torch.Tensor] = []
    method.nets["c_exp"].register_forward_pre_hook(lambda _m, args: inputs.append(args[0].detach().clone()))
    method.nets["generator"].register_forward_hook(lambda _m, _args, out: outputs.append(out.detach().clone()))
    batch = train.batch(torch.arange(4))
    method.train_step(batch, step=0)
    assert len(inputs) == 2 and len(outputs) == 1  # C_exp learns on real images, then judges the edit
    for seen, image in ((inputs[0], batch.image), (inputs[1], outputs[0][: len(batch)])):
        added = (seen - image).flatten(1).std(1)
        assert bool((added > 0).all()) is (noise > 0) and float(added.max()) <= noise * 1.1


def test_the_adversarial_view_stays_in_its_ball_and_raises_c_exps_loss(synth: FaceDataset) -> None:
    """model.exp_adversarial: the moved images lie within the radius of the originals (most on
    its edge), C_exp's loss on them exceeds its loss on the originals and on the mirrored move
    (a step down the gradient would fail both), and C_exp's weights take no gradient from it."""
    train = synth.split("train")
    radius = 0.05
    method = smoke_model(train, f"model.exp_adversarial={radius}")
    c_exp = method.nets["c_exp"]
    batch = train.batch(torch.arange(8))
    levels = discretise_aus(batch.aus, "round")
    torch.manual_seed(0)
    moved = method.adversarial_view(batch.image, levels)
    move = moved - batch.image
    assert float(move.abs().max()) <= radius * (1 + 1e-5)
    assert float((move.abs() > radius * 0.999).float().mean()) > 0.5
    assert all(p.grad is None for p in c_exp.parameters())
    with torch.no_grad():  # in training mode, as the attack reads C_exp (BatchNorm on batch statistics)
        loss = {name: float(expression_loss(c_exp(images), levels))
                for name, images in (("moved", moved), ("original", batch.image), ("mirrored", batch.image - move))}
    assert loss["moved"] > loss["original"] > loss["mirrored"]


@pytest.mark.parametrize("radius", [0.0, 0.05])
def test_c_exp_learns_from_adversarial_images_only_when_asked(synth: FaceDataset, radius: float) -> None:
    """With a radius, C_exp reads the real images three times in a step (the attack, the learning
    pass on the moved images, then the edit it judges); without, twice, the real images as they are."""
    train = synth.split("train")
    method = smoke_model(train, f"model.exp_adversarial={radius}")
    inputs: list[torch.Tensor] = []
    method.nets["c_exp"].register_forward_pre_hook(lambda _m, args: inputs.append(args[0].detach().clone()))
    batch = train.batch(torch.arange(4))
    method.train_step(batch, step=0)
    learned = inputs[1] if radius else inputs[0]
    assert len(inputs) == (3 if radius else 2)
    assert float((learned - batch.image).abs().max()) == pytest.approx(radius, rel=1e-5, abs=1e-7)


def test_c_exp_learns_until_its_freeze_iteration_then_only_judges(synth: FaceDataset) -> None:
    """model.cexp_freeze_at=3: iteration 2 moves C_exp (and D_img); iteration 3 moves D_img, E and
    G but leaves every C_exp weight and BatchNorm statistic as it was, while C_exp still judges G."""
    train = synth.split("train")
    method = smoke_model(train, "model.cexp_freeze_at=3")
    c_exp, critic = method.nets["c_exp"], method.nets["critic"]
    batch = train.batch(torch.arange(4))

    def state(net: torch.nn.Module) -> list[torch.Tensor]:
        return [t.detach().clone() for t in (*net.parameters(), *net.buffers())]

    def moved(before: list[torch.Tensor], net: torch.nn.Module) -> bool:
        return any(not torch.equal(a, b) for a, b in zip(before, state(net), strict=True))

    before = state(c_exp)
    learning = method.train_step(batch, step=2)
    assert moved(before, c_exp) and "c_exp" in learning
    judged: list[torch.Tensor] = []
    c_exp.register_forward_pre_hook(lambda _m, args: judged.append(args[0]))
    before, before_critic, before_g = state(c_exp), state(critic), state(method.nets["generator"])
    frozen_out = method.train_step(batch, step=3)
    assert not moved(before, c_exp) and "c_exp" not in frozen_out and "g_exp" in frozen_out
    assert moved(before_critic, critic) and moved(before_g, method.nets["generator"])
    assert len(judged) == 1  # no learning pass on real images, one judging pass on the edit
    assert (EggAN.preset("quick").model.cexp_freeze_at, EggAN.preset("standard").model.cexp_freeze_at) == (0, 2000)
    with pytest.raises(ConfigError, match="cexp_freeze_at"):
        smoke_model(train, "model.cexp_freeze_at=-1")


def test_a_projection_critic_adds_the_aus_embedding_times_the_pooled_features() -> None:
    """model.critic_condition=projection: score(x, u) = score(x) + <W u / 5, mean of D's last map>,
    recomputed here from the unconditional critic with the same weights."""
    torch.manual_seed(0)
    plain, projection = Critic(32, 0.25), Critic(32, 0.25, n_aus=17)
    projection.load_state_dict({**plain.state_dict(), "embed.weight": projection.embed.weight.detach()})
    x, aus = torch.rand(3, 3, 32, 32) * 2 - 1, torch.rand(3, 17) * 5
    with torch.no_grad():
        pooled = plain.features(x).mean(dim=(2, 3))
        expected = plain(x) + ((aus / 5.0) @ projection.embed.weight.T * pooled).sum(1)
        assert torch.allclose(projection(x, aus), expected, atol=1e-6)
        assert not torch.allclose(projection(x, aus), projection(x, aus.flip(0)))  # the pairing counts
    with pytest.raises(ValueError, match="AUs"):
        projection(x)


def test_critic_condition_is_checked_and_paper_architecture_only(synth: FaceDataset) -> None:
    train = synth.split("train")
    with pytest.raises(ConfigError, match="critic_condition must be one of"):
        smoke_model(train, "model.critic_condition=auxiliary")
    with pytest.raises(ConfigError, match="paper architecture only"):
        smoke_model(train, "model.architecture=official", "model.critic_condition=projection")
    assert smoke_model(train).metadata()["critic_condition"] == "none"
    assert smoke_model(train).nets["critic"].embed is None
    for name in ("quick", "standard"):  # row z6 of docs/eggan-variants.md: C_exp and C_id at width 1 too
        assert (EggAN.preset(name).model.critic_condition, EggAN.preset(name).model.width) == ("projection", 1.0)
    assert EggAN.preset("paper").model.critic_condition == "none"


def test_a_projection_critic_reads_real_images_with_their_aus_and_edits_with_their_targets(
        synth: FaceDataset) -> None:
    train = synth.split("train")
    method = smoke_model(train, "model.critic_condition=projection")
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []
    edits: list[torch.Tensor] = []
    method.nets["critic"].register_forward_pre_hook(lambda _m, args: calls.append((args[0].detach(), args[1])))
    method.nets["generator"].register_forward_hook(lambda _m, _args, out: edits.append(out.detach()))
    batch = train.batch(torch.arange(4))
    n = len(batch)
    method.train_step(batch, step=0)
    (critic_images, critic_aus), (judged, judged_aus) = calls  # the critic's step, then G's adversarial term
    assert torch.equal(critic_images[:n], batch.image) and torch.equal(critic_aus[:n], batch.aus)
    assert torch.equal(critic_aus[2 * n :], batch.aus)  # the mixed images for the penalty: the real AUs
    assert torch.equal(judged, edits[0][:n]) and torch.equal(critic_images[n : 2 * n], judged)
    assert torch.equal(critic_aus[n : 2 * n], judged_aus)  # the edit is judged with its target
    assert not torch.equal(judged_aus, batch.aus)


def test_the_monitor_logs_curves_and_leaves_training_bit_for_bit_as_it_was(synth: FaceDataset,
                                                                            tmp_path: Path) -> None:
    config = apply_overrides(EggAN.preset("smoke"), ["train.steps=6", "train.monitor_every=3",
                                                     "train.checkpoint_every=6"])
    watched = train_run(config, tmp_path / "watched", dataset=synth,
                        monitor_for=lambda data: edit_monitor(config.data, data))
    plain = train_run(config, tmp_path / "plain", dataset=synth)
    for a, b in zip(watched.method.nets.parameters(), plain.method.nets.parameters(), strict=True):
        assert torch.equal(a, b)
    curves = [json.loads(line) for line in (tmp_path / "watched" / "metrics.jsonl").read_text().splitlines()
              if "gt_edit" in line]
    assert [c["step"] for c in curves] == [3, 6]
    assert all(isinstance(c["gt_recon_psnr"], float) for c in curves)
    assert "gt_edit" not in (tmp_path / "plain" / "metrics.jsonl").read_text()


def test_read_curves_gives_the_monitor_lines_in_step_order_and_skips_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    assert read_curves(log) == []  # no training log: no curve
    lines = ['{"step": 10, "g_l1": 0.5}',  # a loss line: not a curve point
             '{"step": 20, "gt_edit": 0.25, "gt_recon_psnr": 26.0, "gt_psnr": 25.0, "gt_own_projection": NaN}',
             '{"step": 10, "gt_edit": 0.125, "gt_recon_psnr": 24.0, "gt_psnr": 23.5, "gt_own_projection": 0.5}',
             '{"gt_edit": 0.5}', '[1, 2]',  # no step: not a measurement
             '{"step": 30, "gt_ed']  # torn by a crash
    log.write_text("\n".join(lines) + "\n")
    assert read_curves(log) == [
        {"step": 10, "gt_edit": 0.125, "gt_recon_psnr": 24.0, "gt_psnr": 23.5, "gt_own_projection": 0.5},
        {"step": 20, "gt_edit": 0.25, "gt_recon_psnr": 26.0, "gt_psnr": 25.0, "gt_own_projection": None},
    ]


def test_no_monitor_for_data_without_ideal_renders(tiny_dataset: Path) -> None:
    from eggan.data.config import DataConfig
    from eggan.data.dataset import load_dataset

    assert edit_monitor(DataConfig(source=str(tiny_dataset), image_size=32), load_dataset(tiny_dataset, 32)) is None
