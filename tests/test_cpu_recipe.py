"""The CPU presets' settings: each one does what its name says, and bf16 keeps a model's accuracy."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from eggan_helpers import smoke_model, smoke_synthfacs
from method_checks import build

from eggan.core.config import PRESETS, RunConfig, apply_overrides
from eggan.core.method import DataInfo, count_parameters
from eggan.core.registry import get_method, method_names
from eggan.core.train import load_trained, train_run
from eggan.core.warmup import fit_classifier
from eggan.data.config import DataConfig
from eggan.data.dataset import FaceDataset
from eggan.egg.model import EggAN
from eggan.errors import ConfigError


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> FaceDataset:
    return smoke_synthfacs(tmp_path_factory.mktemp("synth"))


def test_every_method_has_every_preset_and_the_cpu_presets_share_one_protocol() -> None:
    """The pipeline scores all methods on one dataset, so quick and standard must agree on it."""
    data = {name: {p: get_method(name).preset(p) for p in PRESETS} for name in method_names()}

    def dataset(config: RunConfig) -> DataConfig:
        return replace(config.data, hflip=False)  # a training augmentation, not the protocol's data

    reference = dataset(data["eggan"]["quick"])
    for name, presets in data.items():
        assert dataset(presets["quick"]) == reference and dataset(presets["standard"]) == reference, name
        assert presets["standard"].train.steps > presets["quick"].train.steps, name
        assert presets["paper"].data.image_size == 128, name


def test_quick_departures_from_the_authors_are_named_in_the_metadata() -> None:
    """Every baseline setting the CPU recipe changes appears in the method's ``deviations``, and
    none of them in the ``paper`` preset's."""
    expected = {"stargan": ("n_critic = 1", "lr = 0.0005", "warmed up"),
                "ganimation": ("n_critic = 1", "lr = 0.0002"),
                "homointerp": ("real latents", "lr = 0.0003", "training identities", "n_discrim = 1")}
    for name, phrases in expected.items():
        config = get_method(name).preset("quick")
        method = get_method(name)(config.model, _info(config.data.image_size), 10, torch.device("cpu"))
        deviations = " | ".join(method.metadata()["deviations"])
        for phrase in phrases:
            assert phrase in deviations, (name, phrase)
        paper = get_method(name)(get_method(name).preset("paper").model, _info(32), 10, torch.device("cpu"))
        paper_deviations = " | ".join(paper.metadata()["deviations"])
        assert not any(phrase in paper_deviations for phrase in phrases), name


def _info(size: int) -> DataInfo:
    return DataInfo(size, 16)


def test_fit_classifier_learns_the_labels_and_is_fixed_by_the_seed(synth: FaceDataset) -> None:
    train = synth.split("train")

    def fit(seed: int) -> tuple[float, torch.Tensor]:
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 4, 4), torch.nn.ReLU(), torch.nn.Flatten(),
                                  torch.nn.Linear(8 * 8 * 8, 8))
        accuracy = fit_classifier("test", net, net.parameters(), train, train.expression_index, F.cross_entropy,
                                  epochs=6, lr=3e-3, betas=(0.9, 0.999), batch_size=16, device=torch.device("cpu"),
                                  log=lambda _m: None)
        return accuracy, torch.cat([p.detach().flatten() for p in net.parameters()])

    accuracy, weights = fit(0)
    assert accuracy > 0.3  # eight expressions: chance is 0.125
    again, same = fit(0)
    assert again == accuracy and torch.equal(weights, same)


def test_stargan_warmup_teaches_the_critic_head_before_the_game(synth: FaceDataset, tmp_path: Path) -> None:
    root = Path(synth.root)
    cold, train = build("stargan", root)
    warm, _ = build("stargan", root, overrides=("model.cls_warmup_epochs=10", "model.cls_warmup_lr=3e-3"))
    x, labels = train.batch(torch.arange(len(train))).image, train.expression_index
    with torch.no_grad():
        losses = [F.cross_entropy(m.nets["D"](x)[1], labels).item() for m in (cold, warm)]
    assert losses[1] < losses[0] - 0.2
    assert warm.metadata()["cls_warmup"]["train_accuracy"] > 0.3
    assert cold.metadata()["cls_warmup"]["train_accuracy"] is None


def test_eggan_cpu_settings_change_the_networks_they_name(synth: FaceDataset) -> None:
    train = synth.split("train")
    default = smoke_model(train)
    batch = smoke_model(train, "model.norm=batch")
    kinds = {type(m) for m in batch.nets["encoder"].modules()} | {type(m) for m in batch.nets["generator"].modules()}
    assert torch.nn.BatchNorm2d in kinds and torch.nn.InstanceNorm2d not in kinds
    assert torch.nn.InstanceNorm2d in {type(m) for m in default.nets["generator"].modules()}
    narrow = smoke_model(train, "model.critic_width=0.0625")
    assert count_parameters(narrow.nets["critic"]) < count_parameters(default.nets["critic"]) / 2
    assert count_parameters(narrow.nets["generator"]) == count_parameters(default.nets["generator"])
    wide = smoke_model(train, "model.coder_width=0.5")  # smoke width 0.125: E and G four times wider
    first = next(m for m in wide.nets["encoder"].modules() if isinstance(m, torch.nn.Conv2d))
    assert first.out_channels == 4 * next(m for m in default.nets["encoder"].modules()
                                          if isinstance(m, torch.nn.Conv2d)).out_channels
    assert count_parameters(wide.nets["generator"]) > 4 * count_parameters(default.nets["generator"])
    for name in ("critic", "c_exp", "c_id"):
        assert count_parameters(wide.nets[name]) == count_parameters(default.nets[name])
    assert wide.metadata()["coder_width"] == 0.5 and default.metadata()["coder_width"] == 0.125
    with pytest.raises(ConfigError, match="allow_random_vgg"):
        smoke_model(train, "model.perceptual_width=0.25", "model.allow_random_vgg=false")
    with pytest.raises(ConfigError, match="paper architecture only"):
        smoke_model(train, "model.architecture=official", "model.norm=batch")
    with pytest.raises(ConfigError, match="paper architecture only"):
        smoke_model(train, "model.architecture=official", "model.coder_width=1")
    with pytest.raises(ConfigError, match="coder_width must be positive"):
        smoke_model(train, "model.coder_width=0")


def test_lambda_z_weighs_only_the_encoders_pull_towards_the_prior(synth: FaceDataset) -> None:
    """``lambda_z`` scales E's latent adversarial term, -log sigmoid(D_z(E(x))), in Eq. 7's sum and
    no other term; the CPU recipes set it to 0.1, ``paper`` keeps the paper's 1."""
    train = synth.split("train")
    batch = train.batch(torch.arange(4))

    def weights(lambda_z: float) -> dict[str, float]:
        method = smoke_model(train, f"model.lambda_z={lambda_z}")
        x, u = batch.image, batch.aus
        code = method.nets["encoder"](x)
        images = method.nets["generator"](torch.cat([code, code]), torch.cat([u.flip(0), u]))
        terms, term_weights, _ = method.generator_terms(x, u, u.flip(0), batch.identity, code, images)
        expected = -torch.sigmoid(method.nets["latent_d"](code)).log().mean()  # written out by hand
        torch.testing.assert_close(terms["e_adv"], expected)
        return term_weights

    tenth, whole = weights(0.1), weights(1.0)
    assert tenth["e_adv"] == pytest.approx(0.1) and whole["e_adv"] == pytest.approx(1.0)
    assert {k: v for k, v in tenth.items() if k != "e_adv"} == {k: v for k, v in whole.items() if k != "e_adv"}
    quick, standard = EggAN.preset("quick").model, EggAN.preset("standard").model
    assert (quick.lambda_z, quick.width, quick.coder_width) == (0.1, 1.0, None)  # E and G at `width`
    assert (standard.lambda_z, standard.width, standard.coder_width) == (0.1, 1.0, 2.0)  # row cw2s
    assert (EggAN.preset("paper").model.lambda_z, EggAN.preset("paper").model.coder_width) == (1.0, None)


def test_narrow_perceptual_trunk_is_cheaper_and_used_in_training(synth: FaceDataset) -> None:
    config = apply_overrides(EggAN.preset("smoke"), ["model.perceptual_width=0.25"])
    method = EggAN(config.model, _info(32), 10, torch.device("cpu"))
    method.setup(synth.split("train"))
    full = smoke_model(synth.split("train"))
    assert count_parameters(method.phi) < count_parameters(full.phi) / 8
    losses = method.train_step(synth.split("train").batch(torch.arange(4)), 0)
    assert torch.isfinite(losses["g_per"]) and losses["g_per"] > 0


def test_cexp_epochs_pretrains_the_expression_classifier(synth: FaceDataset) -> None:
    """cexp_epochs > 0: C_exp learns the real images' AU classes (rounded, Eq. 3) before the game, and
    reads them better afterwards; at 0 (the paper) pre-training leaves C_exp as it was built."""
    train = synth.split("train")
    images = train.batch(torch.arange(len(train))).image
    classes = torch.floor(train.aus + 0.5).clamp(0, 5).long()

    def accuracy(method: EggAN) -> float:
        net = copy.deepcopy(method.nets["c_exp"])  # batch statistics of the whole split, on a copy
        with torch.no_grad():
            return float((net(images).argmax(-1) == classes).float().mean())

    method = smoke_model(train, "model.cexp_epochs=4", "model.lr_exp=3e-3")
    before = accuracy(method)
    method.pretrain(train, lambda _m: None)
    reported = method.metadata()["cexp_pretraining"]["train_accuracy"]
    assert 0 < reported <= 1 and accuracy(method) > before + 0.05
    plain = smoke_model(train)
    built = {k: v.clone() for k, v in plain.nets["c_exp"].state_dict().items()}
    plain.pretrain(train, lambda _m: None)
    assert all(torch.equal(built[k], v) for k, v in plain.nets["c_exp"].state_dict().items())
    assert plain.metadata()["cexp_pretraining"]["train_accuracy"] is None


def test_homointerp_classifier_on_real_learns_real_labels(synth: FaceDataset) -> None:
    """With ``classifier_on=real`` D's class loss is its BCE on the real latents E(x) against their
    own labels; the released setting scores interpolated latents against source labels instead."""
    from baselines.homointerp import bce_sum, imagenet_normalise

    root = Path(synth.root)
    for option in ("interpolated", "real"):
        method, train = build("homointerp", root, overrides=(f"model.classifier_on={option}",))
        batch = train.batch(torch.arange(8))
        with torch.no_grad():  # D has no batch statistics: its logits for E(x) do not depend on the rest
            on_real = bce_sum(method.nets["D"](method.nets["E"](imagenet_normalise(batch.image)))[1],
                              torch.cat(method.labels(batch), dim=1))
        logged = method.train_step(batch, 1)["d_cls"]
        assert torch.isclose(logged, on_real, rtol=1e-4) == (option == "real"), option
        assert ("real latents" in " ".join(method.metadata()["deviations"])) == (option == "real")
    with pytest.raises(ConfigError, match="classifier_on"):
        build("homointerp", root, overrides=("model.classifier_on=both",))


def heldout_reconstruction(method: EggAN, test: FaceDataset) -> float:
    """Mean L1 of E/G reconstructing held-out people at their own AUs (lower is better)."""
    batch = test.batch(torch.arange(len(test)))
    with torch.no_grad():
        return float((method.translate(batch.image, batch) - batch.image).abs().mean())


def test_bf16_autocast_keeps_a_small_models_heldout_accuracy(synth: FaceDataset, tmp_path: Path) -> None:
    """bf16 is an option only where it holds accuracy: one seed trained through the shared loop
    in fp32 and with ``train.bf16`` reconstructs held-out people equally well (within 10 %), and
    both improved on the untrained networks by more than that."""
    settings = ["train.steps=40", "train.batch_size=16", "train.device=cpu", "train.checkpoint_every=1000",
                "train.sample_every=1000", "model.no_perceptual=true", "model.cid_epochs=0"]
    test = synth.split("test")
    untrained = heldout_reconstruction(smoke_model(synth.split("train"), "model.no_perceptual=true"), test)
    scores = {}
    for bf16 in (False, True):
        config = apply_overrides(EggAN.preset("smoke"), [*settings, f"train.bf16={str(bf16).lower()}"])
        train_run(config, tmp_path / f"bf16-{bf16}", dataset=synth, log=lambda _m: None)
        scores[bf16] = heldout_reconstruction(load_trained(tmp_path / f"bf16-{bf16}" / "checkpoint.pt", "cpu"), test)
    assert max(scores.values()) < 0.9 * untrained, (scores, untrained)
    assert abs(scores[True] - scores[False]) < 0.1 * scores[False], scores


def test_an_eggan_iteration_runs_e_and_g_once(synth: FaceDataset) -> None:
    """No duplicate forward passes: the critic's fake, the edit and the reconstruction come from one
    call of E and one (batched) call of G, and D_img scores real, fake and mixed images in one call."""
    train = synth.split("train")
    method = smoke_model(train)
    calls = {name: 0 for name in ("encoder", "generator", "critic")}
    for name in calls:
        method.nets[name].register_forward_hook(lambda *_args, name=name: calls.__setitem__(name, calls[name] + 1))
    method.train_step(train.batch(torch.arange(4)), method.cfg.n_critic - 1)  # a step with the E + G update
    assert calls["encoder"] == 1 and calls["generator"] == 1
    assert calls["critic"] == 2  # its own step, and G's adversarial term
