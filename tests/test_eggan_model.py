"""EggAN as a Method: presets, variants, ablations removing exactly their terms, learning, state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from eggan_helpers import random_phi, smoke_model, smoke_synthfacs
from method_checks import check_ddp_replicas_agree, check_translate_runs_in_eval_mode, checkpoint_tensors
from torch import nn

from eggan.core.checkpoint import load_checkpoint
from eggan.core.config import RunConfig, apply_overrides
from eggan.core.method import DataInfo
from eggan.core.registry import get_method
from eggan.core.train import train_run
from eggan.data.dataset import FaceDataset, Target
from eggan.egg import losses as L
from eggan.egg import model
from eggan.egg.model import EggAN
from eggan.egg.variants import EggANConfig, resolve
from eggan.errors import ConfigError, EgganWarning, MissingComponentError

FULL_KEYS = {
    "d_adv", "d_gp", "c_exp", "c_exp_acc_real", "dz_adv",
    "g_adv", "e_adv", "g_exp", "g_id", "g_per", "g_l1", "g_msssim", "g_total", "exp_acc_edit",
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> FaceDataset:
    return smoke_synthfacs(tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="module")
def train(dataset: FaceDataset) -> FaceDataset:
    return dataset.split("train")


def one_step(method: EggAN, train: FaceDataset, step: int = 0) -> dict[str, torch.Tensor]:
    return method.train_step(train.batch(torch.arange(4)), step)


def test_registered_and_presets() -> None:
    assert get_method("eggan") is EggAN
    sizes = {name: EggAN.preset(name).data.image_size for name in ("smoke", "quick", "standard", "paper")}
    assert sizes == {"smoke": 32, "quick": 32, "standard": 32, "paper": 128}
    paper = EggAN.preset("paper")
    c = resolve(paper.model)
    assert (c.lambda_exp, c.lambda_id, c.lambda_per, c.lambda_rec, c.lambda_gp) == (100, 60, 20, 100, 20)
    assert (paper.train.epochs, paper.train.batch_size, c.lr, c.lr_exp) == (400, 8, 1e-4, 2e-4)
    assert not c.allow_random_vgg and c.width == 1.0


def test_official_variant_is_one_override_and_pieces_can_be_switched_back() -> None:
    config = apply_overrides(EggAN.preset("smoke"), ["model.variant=official"])
    c = resolve(config.model)
    assert (c.architecture, c.adversarial, c.au_discretisation, c.msssim) == (
        "official", "least-squares", "truncate", "official")
    assert not c.encoder_adversarial and c.reconstruction_terms and c.critic_fake == "prior"
    assert (c.lambda_exp, c.lambda_id, c.lambda_per, c.lambda_rec, c.lambda_msssim, c.lambda_gp) == (
        10, 50, 10, 100, 50, 10)
    mixed = resolve(apply_overrides(config, ["model.au_discretisation=round"]).model)
    assert mixed.au_discretisation == "round" and mixed.adversarial == "least-squares"
    with pytest.raises(ConfigError):
        apply_overrides(EggAN.preset("smoke"), ["model.variant=authors"])
    with pytest.raises(ConfigError):
        resolve(EggANConfig(n_critic=0))


@pytest.mark.parametrize("variant", ["paper", "official"])
def test_one_step_reports_every_term(train: FaceDataset, variant: str) -> None:
    method = smoke_model(train, f"model.variant={variant}")
    out = one_step(method, train)
    expected = FULL_KEYS - ({"e_adv"} if variant == "official" else set())
    assert set(out) == expected
    assert all(torch.isfinite(v) and not v.requires_grad for v in out.values())


@pytest.mark.parametrize(
    ("switch", "key", "function"),
    [("no_perceptual", "g_per", "perceptual_loss"), ("no_identity", "g_id", "identity_loss"),
     ("no_msssim", "g_msssim", "msssim_loss")],
)
def test_ablations_remove_exactly_their_term(
    train: FaceDataset, monkeypatch: pytest.MonkeyPatch, switch: str, key: str, function: str
) -> None:
    def never(*args: object) -> torch.Tensor:
        raise AssertionError(f"{function} was computed although {switch} is on")

    monkeypatch.setattr(L, function, never)
    method = smoke_model(train, f"model.{switch}=true")
    out = one_step(method, train)
    assert set(out) == FULL_KEYS - {key}
    assert switch in {k for k, v in method.metadata()["ablations"].items() if v}
    full = smoke_model(train)
    with pytest.raises(AssertionError, match=function):
        one_step(full, train)


def test_ablated_components_are_not_built(train: FaceDataset) -> None:
    method = smoke_model(train, "model.no_perceptual=true", "model.no_identity=true", "model.no_msssim=true")
    assert "c_id" not in method.nets and method.phi is None and method.msssim is None
    meta = method.metadata()
    assert {"perceptual", "identity", "reconstruction_msssim"}.isdisjoint(meta["loss_terms"])
    assert meta["vgg19"]["weights"] == "not used"


def test_removed_term_does_not_change_the_generator_update(train: FaceDataset) -> None:
    """With lambda_per = 0 the full model's E/G update equals the E_wtP model's update."""
    updates = []
    for overrides in (("model.lambda_per=0",), ("model.no_perceptual=true",)):
        method = smoke_model(train, *overrides)
        torch.manual_seed(1)
        one_step(method, train)
        updates.append(torch.cat([p.detach().flatten() for p in method.nets["generator"].parameters()]))
    assert torch.allclose(updates[0], updates[1], atol=1e-6)


def test_classifier_weight_scale_multiplies_exactly_the_expression_and_identity_weights(train: FaceDataset) -> None:
    totals = {}
    for scale in (1.0, 0.25):
        method = smoke_model(train, f"model.classifier_weight_scale={scale}")
        torch.manual_seed(1)
        totals[scale] = one_step(method, train)
    c, full = resolve(EggAN.preset("smoke").model), totals[1.0]
    assert torch.allclose(totals[0.25]["g_exp"], full["g_exp"]) and torch.allclose(totals[0.25]["g_id"], full["g_id"])
    removed = 0.75 * (c.lambda_exp * full["g_exp"] + c.lambda_id * full["g_id"])
    assert torch.allclose(full["g_total"] - totals[0.25]["g_total"], removed, rtol=1e-4)


@pytest.mark.parametrize(("variant", "reaches_encoder"), [("paper", True), ("official", False)])
def test_encoder_is_trained_against_latent_d_only_in_the_paper(
    train: FaceDataset, variant: str, reaches_encoder: bool
) -> None:
    encoders = []
    for perturb in (False, True):
        method = smoke_model(train, f"model.variant={variant}")
        if perturb:
            with torch.no_grad():
                for p in method.nets["latent_d"].parameters():
                    p.add_(torch.randn_like(p))
        torch.manual_seed(1)
        one_step(method, train)
        encoders.append(torch.cat([p.detach().flatten() for p in method.nets["encoder"].parameters()]))
    assert torch.equal(encoders[0], encoders[1]) is not reaches_encoder


@pytest.mark.parametrize(("variant", "target", "separate"), [
    ("paper", "shared", False), ("official", "separate", True), ("official", "shared", False),
    ("paper", "separate", True),
])
def test_the_authors_draw_one_target_for_the_critics_fake_and_another_for_the_edit(
    train: FaceDataset, variant: str, target: str, separate: bool
) -> None:
    method = smoke_model(train, f"model.variant={variant}", f"model.critic_target={target}")
    seen: list[torch.Tensor] = []
    method.nets["generator"].register_forward_hook(lambda _m, args, _out: seen.append(args[1].clone()))
    one_step(method, train)
    (edit, reconstruction), fakes = seen[0].split(4), seen[1:]  # G(E(x) | [u_t, u_s]), then the critic's fake
    # The paper's fake with one target draw is the edit itself: no second pass of G.
    assert len(fakes) == (0 if variant == "paper" and not separate else 1)
    critic_fake = fakes[0] if fakes else edit
    assert torch.equal(critic_fake, edit) is not separate
    bank = {tuple(row) for row in train.aus.tolist()}  # every target is a training image's AU vector
    assert all(tuple(row) in bank for row in torch.cat([critic_fake, edit]).tolist())
    assert torch.equal(reconstruction, train.aus[:4])
    assert method.metadata()["variant_settings"]["critic_target"] == target


@pytest.mark.parametrize(("passes", "batches"), [("per-branch", [4, 4]), ("joint", [8])])
def test_identity_classifier_judges_each_branch_in_its_own_pass(
    train: FaceDataset, passes: str, batches: list[int]
) -> None:
    """The authors run C_id (left in training mode) on the edit, then on the reconstruction: two
    BatchNorm updates from n images each, not one from 2n."""
    method = smoke_model(train, "model.variant=official", f"model.cid_passes={passes}")
    c_id = method.nets["c_id"]
    seen: list[int] = []
    c_id.register_forward_hook(lambda _m, args, _out: seen.append(len(args[0])))
    norm = next(m for m in c_id.modules() if isinstance(m, nn.BatchNorm2d))
    before = int(norm.num_batches_tracked)
    one_step(method, train)
    assert seen == batches and int(norm.num_batches_tracked) - before == len(batches)
    assert method.metadata()["variant_settings"]["cid_passes"] == passes


@pytest.mark.parametrize(("variant", "batch"), [("paper", 32), ("official", 8)])
def test_identity_classifier_pretrains_with_the_variants_batch(train: FaceDataset, variant: str, batch: int) -> None:
    method = smoke_model(train, f"model.variant={variant}")
    seen: list[int] = []
    method.nets["c_id"].register_forward_hook(lambda _m, args, _out: seen.append(len(args[0])))
    method.pretrain(train, lambda _msg: None)  # the smoke preset: one epoch
    assert seen == [batch] * (len(train) // batch)
    assert method.metadata()["cid_pretraining"]["batch_size"] == batch
    assert method.metadata()["variant_settings"]["cid_batch_size"] == batch


def test_n_critic_skips_the_generator_phase(train: FaceDataset) -> None:
    method = smoke_model(train, "model.n_critic=2")
    assert "g_total" not in one_step(method, train, step=0)
    assert "g_total" in one_step(method, train, step=1)


def test_generate_and_translate(train: FaceDataset) -> None:
    method = smoke_model(train)
    batch = train.batch(torch.arange(3))
    out = method.translate(batch.image, Target(aus=batch.aus.flip(0)))
    assert out.shape == (3, 3, 32, 32)
    with pytest.raises(ConfigError, match="aus"):
        method.translate(batch.image, Target(expression=batch.expression))
    check_translate_runs_in_eval_mode(method, batch.image, Target(aus=batch.aus.flip(0)))


def test_the_generator_step_leaves_the_critics_untouched_and_trainable(train: FaceDataset) -> None:
    """D_img, D_z and C_exp take no gradient from E and G's step, and learn again afterwards."""
    method = smoke_model(train)
    batch = train.batch(torch.arange(4))
    x, u_s = batch.image, batch.aus
    critics = [method.nets[name] for name in ("critic", "latent_d", "c_exp")]
    for net in critics:
        net.zero_grad(set_to_none=True)
    code = method.nets["encoder"](x)
    images = method.nets["generator"](torch.cat([code, code]), torch.cat([u_s.flip(0), u_s]))
    method.generator_step(x, u_s, u_s.flip(0), batch.identity, code, images)
    assert all(p.grad is None and p.requires_grad for net in critics for p in net.parameters())
    assert any(p.grad is not None for p in method.nets["generator"].parameters())


def test_c_exp_learns_in_train_mode_and_judges_the_generator_in_eval_mode(train: FaceDataset) -> None:
    """In the generator step C_exp is a fixed judge: BatchNorm reads its running statistics, and the
    critic step after it finds C_exp in train mode again."""
    method = smoke_model(train)
    modes: list[bool] = []
    hook = method.nets["c_exp"].register_forward_pre_hook(lambda module, _args: modes.append(module.training))
    one_step(method, train)
    hook.remove()
    assert modes == [True, False]  # critic step (learns on real images), then generator step (judges)
    assert method.nets["c_exp"].training


def test_paper_preset_refuses_to_start_without_vgg_weights(
    train: FaceDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.delenv("EGGAN_VGG19_WEIGHTS", raising=False)
    config = EggAN.preset("paper").model
    config.width, config.classifier_depth = 1 / 16, (1, 1, 1, 1, 1)
    method = EggAN(config, DataInfo(32, len(train.identities)), 10, torch.device("cpu"))
    with pytest.raises(MissingComponentError, match=r"vgg19-dcbb9e9d\.pth"):
        method.setup(train)


def test_random_vgg_is_a_warning_and_in_the_metadata(train: FaceDataset, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.delenv("EGGAN_VGG19_WEIGHTS", raising=False)
    config = EggAN.preset("smoke").model
    method = EggAN(config, DataInfo(32, len(train.identities)), 10, torch.device("cpu"))
    with pytest.warns(EgganWarning, match="random VGG19"):
        method.setup(train)
    meta = method.metadata()
    assert meta["vgg19"]["weights"] == "random"
    assert meta["msssim"]["scales"] == 3 and meta["variant"] == "paper"
    assert set(meta["parameters"]) == {"encoder", "latent_d", "generator", "critic", "c_exp", "c_id"}


def test_state_round_trip_includes_the_pretrained_identity_classifier(train: FaceDataset) -> None:
    method = smoke_model(train)
    method.pretrain(train, lambda _msg: None)
    assert not any(p.requires_grad for p in method.nets["c_id"].parameters())
    one_step(method, train)
    clone = smoke_model(train, seed=5)
    clone.load_state_dict(method.state_dict())
    for name, net in method.nets.items():
        for a, b in zip(net.state_dict().values(), clone.nets[name].state_dict().values(), strict=True):
            assert torch.equal(a, b), name


def test_smoke_steps_reduce_reconstruction_and_teach_the_aus(train: FaceDataset) -> None:
    """A few hundred smoke steps: L1 reconstruction falls and C_exp reads the target AUs off edits."""
    steps = 120
    method = smoke_model(train, steps=steps)
    generator = torch.Generator().manual_seed(0)
    history = []
    for step in range(steps):
        out = method.train_step(train.batch(torch.randint(len(train), (4,), generator=generator)), step)
        for scheduler in method.schedulers.values():
            scheduler.step()
        history.append(out)

    def mean(key: str, part: slice) -> float:
        return float(torch.stack([h[key] for h in history[part]]).mean())

    first, last = slice(0, 20), slice(-20, None)
    assert mean("g_l1", last) < 0.95 * mean("g_l1", first)
    assert mean("exp_acc_edit", last) > mean("exp_acc_edit", first) + 0.15


def smoke_run(*overrides: str) -> RunConfig:
    return apply_overrides(EggAN.preset("smoke"), ["train.device=cpu", *overrides])


@pytest.mark.parametrize("variant", ["paper", "official"])
def test_resume_is_exact(dataset: FaceDataset, tmp_path: Path, variant: str) -> None:
    """2 steps + resume + 2 steps = 4 steps, through the shared loop (RNG: targets, z, GP mixing)."""
    config = smoke_run("train.steps=4", "model.no_perceptual=true", f"model.variant={variant}")
    train_run(config, tmp_path / "a", dataset=dataset)
    train_run(config, tmp_path / "b", dataset=dataset, until=2)
    train_run(config, tmp_path / "b", dataset=dataset)
    a, b = (load_checkpoint(tmp_path / run / "checkpoint.pt")["method_state"]["nets"] for run in ("a", "b"))
    assert all(torch.equal(a[net][key], b[net][key]) for net in a for key in a[net])


def test_a_crashed_run_resumes_from_its_periodic_checkpoint(
    dataset: FaceDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that dies at step 5 (after its checkpoint at step 4, with no ``until``) and is started
    again ends exactly as an uninterrupted run: every network, optimiser and scheduler state, the
    RNG; with the perceptual loss on (a random VGG19, as the smoke preset allows)."""
    phi = random_phi()  # built before any run: every run's setup then draws nothing from the RNG
    monkeypatch.setattr(model, "build_perceptual", lambda *_args: phi)
    config = smoke_run("train.steps=6", "train.checkpoint_every=2")
    train_run(config, tmp_path / "straight", dataset=dataset)
    step = EggAN.train_step

    def dies_at_step_5(self: EggAN, batch, index: int) -> dict[str, torch.Tensor]:
        if index == 5:
            raise RuntimeError("killed")
        return step(self, batch, index)

    with monkeypatch.context() as crash:
        crash.setattr(EggAN, "train_step", dies_at_step_5)
        with pytest.raises(RuntimeError, match="killed"):
            train_run(config, tmp_path / "crashed", dataset=dataset)
    assert load_checkpoint(tmp_path / "crashed" / "checkpoint.pt")["step"] == 4
    assert train_run(config, tmp_path / "crashed", dataset=dataset).step == 6
    a, b = (checkpoint_tensors(tmp_path / run / "checkpoint.pt") for run in ("straight", "crashed"))
    assert a.keys() == b.keys() and any(key.startswith("opt.generator.") for key in a)
    assert {key.split(".")[0] for key in a} == {"net", "opt", "sched"}
    for key in a:
        assert torch.equal(a[key], b[key]), key
    rng = [load_checkpoint(tmp_path / run / "checkpoint.pt")["rng"][0]["torch"] for run in ("straight", "crashed")]
    assert torch.equal(*rng)
    assert load_checkpoint(tmp_path / "crashed" / "checkpoint.pt")["method_state"]["vgg19"]["weights"] == "random"


@pytest.mark.ddp
def test_ddp_two_processes_keep_replicas_identical(dataset: FaceDataset, tmp_path: Path) -> None:
    """EGGAN (perceptual loss on, random VGG19) under torchrun with gloo: same parameters on both ranks."""
    check_ddp_replicas_agree("eggan", dataset.root, tmp_path)
