"""SynthFACS: deterministic renders, a well-formed index, and AUs whose effect is visible where FACS
says it should be."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from eggan.cli.main import app
from eggan.data.aus import AU_IDS, EXPRESSIONS, N_AUS
from eggan.data.config import IMAGE_SIZES
from eggan.data.dataset import INDEX_COLUMNS, load_dataset, read_index, split_identities
from eggan.data.face import VIEW, render_faces
from eggan.data.identity import sample_identities, sample_identity
from eggan.data.synthfacs import (
    META_NAME,
    PROTOTYPES,
    default_counts,
    identity_name,
    render_synthfacs,
    sample_expression,
)
from eggan.errors import ConfigError, DataError

SMALL = {"size": 32, "identities": 4, "test_identities": 1, "variants": 1}
UPPER_FACE = (1, 2, 4, 5, 7, 45)
LOWER_FACE = (10, 12, 14, 15, 17, 20, 23, 25, 26)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_synthfacs(tmp_path_factory.mktemp("synth") / "a", seed=0, **SMALL)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(small: Path, tmp_path: Path) -> None:
    again = render_synthfacs(tmp_path / "b", seed=0, **SMALL)
    assert _files(small) == _files(again)


def test_other_seed_gives_other_faces(small: Path, tmp_path: Path) -> None:
    other = render_synthfacs(tmp_path / "c", seed=1, **SMALL)
    first, second = _files(small), _files(other)
    assert first.keys() == second.keys()
    differing = [name for name in first if name.endswith(".png") and first[name] != second[name]]
    assert len(differing) == 4 * len(EXPRESSIONS)


def test_index_columns_split_and_counts(small: Path) -> None:
    table = read_index(small)
    assert tuple(pd.read_csv(small / "index.csv").columns) == INDEX_COLUMNS
    assert len(table) == 4 * len(EXPRESSIONS) * 1
    assert table.groupby("identity")["split"].nunique().max() == 1
    assert table.drop_duplicates("identity")["split"].value_counts().to_dict() == {"train": 3, "test": 1}
    assert (table.groupby(["identity", "expression"]).size() == 1).all()
    assert all((small / path).is_file() for path in table["path"])
    dataset = load_dataset(small, 32, min_identities=1)
    assert dataset.images.shape == (32, 3, 32, 32)


def test_labels_follow_the_prototypes(small: Path) -> None:
    """Prototype AUs are strong, the other AUs only carry small noise (blinks aside)."""
    table = read_index(small)
    for expression, prototype in PROTOTYPES.items():
        rows = table[table["expression"] == expression]
        for au in AU_IDS:
            values = rows[f"AU{au:02d}_r"]
            if au in prototype:
                assert (values >= 1.0).all(), (expression, au)
            elif au != 45:
                assert (values <= 0.8).all(), (expression, au)


def test_evaluator_identities_are_extra_people_and_leave_train_and_test_unchanged(small: Path, tmp_path: Path) -> None:
    wider = render_synthfacs(tmp_path / "e", seed=0, **SMALL, evaluator_identities=2)
    table, base = read_index(wider), read_index(small)
    assert table.drop_duplicates("identity").set_index("identity")["split"].to_dict() == {
        **base.drop_duplicates("identity").set_index("identity")["split"].to_dict(),
        identity_name(4): "evaluator", identity_name(5): "evaluator"}
    assert {p: b for p, b in _files(wider).items() if p in _files(small)} == _files(small) | {
        "index.csv": _files(wider)["index.csv"], "synthfacs.json": _files(wider)["synthfacs.json"]}
    dataset = load_dataset(wider, 32, min_identities=1)
    assert dataset.split("evaluator").identities == [identity_name(4), identity_name(5)]
    counts = default_counts(4, 1, 1, evaluator_identities=2)
    assert counts["images"] == len(table) and counts["evaluator_images"] == 2 * len(EXPRESSIONS)


def test_default_protocol_sizes() -> None:
    counts = default_counts()
    assert counts["train_per_expression"] >= 174
    assert counts["images"] == 80 * 8 * 6
    names = [identity_name(i) for i in range(80)]
    split = split_identities(names, 16 / 80, seed=0)
    assert sum(s == "test" for s in split.values()) == 16


def test_bad_parameters_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        render_synthfacs(tmp_path, size=48)
    with pytest.raises(ConfigError):
        render_synthfacs(tmp_path, identities=4, test_identities=4)
    with pytest.raises(ConfigError):
        render_faces(sample_identities(0, 2), torch.zeros(3, N_AUS), 32)


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_every_size_renders(size: int) -> None:
    images = render_faces(sample_identities(0, 2), torch.rand(2, N_AUS) * 5, size)
    assert images.shape == (2, 3, size, size) and images.dtype == torch.uint8
    assert images.float().std() > 20  # a face on a background, not a flat image


def _row_coordinates(size: int) -> torch.Tensor:
    return ((torch.arange(size) + 0.5) * (2.0 / size) - 1.0) * VIEW


@pytest.mark.parametrize("au", AU_IDS)
def test_every_au_changes_its_own_region(au: int) -> None:
    """Intensity 2 and 5 vs 0 on several identities: a visible change, growing with intensity,
    concentrated in the upper face (brows, lids) or the lower face (lips, jaw) as FACS says."""
    size, people = 64, sample_identities(3, 6)
    rows = _row_coordinates(size)
    for person in range(len(people)):
        aus = torch.zeros(3, N_AUS)
        aus[1, AU_IDS.index(au)], aus[2, AU_IDS.index(au)] = 2.0, 5.0
        images = render_faces(people.select([person] * 3), aus, size).float()
        change = (images[1:] - images[0]).abs().mean(1)  # 2 x S x S
        assert change[0].amax() >= 8, f"AU{au:02d} at 2 is invisible on identity {person}"
        assert change[1].sum() > change[0].sum()
        per_row = change[1].sum(1)
        upper_share = per_row[rows < people.nose_y[person] - 0.04].sum() / per_row.sum()
        if au in UPPER_FACE:
            assert upper_share > 0.95
        elif au in LOWER_FACE:
            assert upper_share < 0.1


def _eye_and_mouth(size: int, person: int) -> tuple[slice, slice]:
    identity = sample_identity(0, person)
    rows = _row_coordinates(size)
    eye = (rows > identity.eye_y - 0.08) & (rows < identity.eye_y + 0.06)
    mouth = (rows > identity.mouth_y - 0.1) & (rows < identity.face_bot + 0.1)
    return eye.nonzero().flatten(), mouth.nonzero().flatten()


def test_blink_closes_the_eyes_and_lid_raise_opens_them() -> None:
    size, people = 64, sample_identities(0, 5)
    for person in range(5):
        eye, _ = _eye_and_mouth(size, person)
        aus = torch.zeros(3, N_AUS)
        aus[1, AU_IDS.index(45)] = 5.0
        aus[2, AU_IDS.index(5)] = 5.0
        images = render_faces(people.select([person] * 3), aus, size).float()
        white = (images[:, :, eye].min(1).values > 200).sum((1, 2))  # sclera pixels
        assert white[1] < 0.2 * white[0] and white[2] > white[0]


def test_lips_part_and_jaw_drop_open_the_mouth_progressively() -> None:
    size, people = 64, sample_identities(0, 5)
    for person in range(5):
        _, mouth = _eye_and_mouth(size, person)
        for au in (25, 26):
            aus = torch.zeros(3, N_AUS)
            aus[1, AU_IDS.index(au)], aus[2, AU_IDS.index(au)] = 2.5, 5.0
            images = render_faces(people.select([person] * 3), aus, size).float()
            change = (images[1:] - images[0]).abs().mean(1)
            inside = change[:, mouth].sum((1, 2))
            assert inside[1] > inside[0] > 0.8 * change[0].sum()


def test_contempt_is_drawn_on_the_dominant_side_only() -> None:
    people = sample_identities(0, 8)
    for person in range(8):
        side = float(people.side[person])
        sample = sample_expression(0, person, "contemptuous", 0, side)
        dominant = 1 if side > 0 else 0
        twelve = AU_IDS.index(12)
        assert sample.sided[dominant, twelve] == sample.aus[twelve] > 1.0
        assert sample.sided[1 - dominant, twelve] == 0.0
        smirk = torch.from_numpy(sample.sided).float()
        without = smirk.clone()
        without[:, [twelve, AU_IDS.index(14)]] = 0.0  # same noise AUs, no smirk
        image = render_faces(people.select([person, person]), torch.stack([without, smirk]), 64)
        change = (image[1].float() - image[0].float()).abs().sum((0, 1))  # per column
        on_dominant = change[32:].sum() if side > 0 else change[:32].sum()
        assert on_dominant > 0.75 * change.sum()


def test_identities_are_distinct() -> None:
    images = render_faces(sample_identities(0, 12), torch.zeros(12, N_AUS), 32).float()
    distance = (images[:, None] - images[None]).abs().mean((2, 3, 4))
    off_diagonal = distance[~torch.eye(12, dtype=torch.bool)]
    assert off_diagonal.min() > 8


def test_figures_and_their_errors(small: Path, tmp_path: Path) -> None:
    from eggan.data.montage import save_au_sweep, save_montage

    montage = save_montage(small, tmp_path / "m.png", identities=3)
    sweep = save_au_sweep(small, tmp_path / "s.png")
    assert montage.stat().st_size > 1000 and sweep.stat().st_size > 1000
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "index.csv").write_bytes((small / "index.csv").read_bytes())
    with pytest.raises(DataError, match=META_NAME):
        save_au_sweep(bare, tmp_path / "t.png")


def test_cli_synth_and_show(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "synth"
    result = runner.invoke(app, ["data", "synth", "--out", str(out), "--size", "32", "--identities", "3",
                                 "--test-identities", "1", "--evaluator-identities", "1", "--variants", "1",
                                 "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert read_index(out)["split"].value_counts().to_dict() == {s: n * len(EXPRESSIONS) for s, n in
                                                                  (("train", 2), ("test", 1), ("evaluator", 1))}
    for extra in ([], ["--au-sweep"]):
        figure = tmp_path / f"figure{len(extra)}.png"
        result = runner.invoke(app, ["data", "show", str(out), "--out", str(figure), *extra])
        assert result.exit_code == 0, result.output
        assert figure.is_file()
    result = runner.invoke(app, ["data", "synth", "--out", str(out), "--size", "48"])
    assert isinstance(result.exception, ConfigError)
