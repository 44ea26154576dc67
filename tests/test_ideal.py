"""The ideal edit of a SynthFACS pair: the source person in its own viewing conditions with the
target's AUs, rendered exactly (eggan.data.ideal)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from eggan.data.aus import AU_COLUMNS, AU_IDS
from eggan.data.dataset import read_index
from eggan.data.face import Nuisance, render_faces
from eggan.data.ideal import IdealRenderer
from eggan.data.identity import sample_identity
from eggan.data.synthfacs import parse_image_path, render_synthfacs, sample_expression
from eggan.errors import DataError


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_synthfacs(tmp_path_factory.mktemp("ideal") / "sf", size=32, identities=6, test_identities=2,
                            variants=2, seed=5)


def test_a_source_rendered_with_its_own_labels_is_its_png_byte_for_byte(synth: Path) -> None:
    table = read_index(synth)
    labels = torch.tensor(table[list(AU_COLUMNS)].to_numpy(np.float32))
    ideal = IdealRenderer(synth).render(list(table["path"]), labels, list(table["expression"]))
    for row, image in zip(table.itertuples(), ideal, strict=True):
        png = np.asarray(Image.open(synth / row.path).convert("RGB"))
        assert np.array_equal(png, image.permute(1, 2, 0).numpy()), row.path


def test_the_edit_keeps_the_source_person_and_conditions_and_shows_the_target_aus(synth: Path) -> None:
    table = read_index(synth)
    source = table[table["expression"] == "neutral"].iloc[0]
    target = table[(table["expression"] == "surprised") & (table["identity"] != source["identity"])].iloc[0]
    aus = torch.tensor(target[list(AU_COLUMNS)].to_numpy(np.float32))[None]
    edit = IdealRenderer(synth).render([source["path"]], aus, ["surprised"])
    # Independently: the source's identity and nuisance from the seeded streams, the target's AUs.
    index, expression, variant = parse_image_path(source["path"])
    person = sample_identity(5, index)
    drawn = sample_expression(5, index, expression, variant, float(person.side[0]))
    nuisance = Nuisance(torch.tensor([drawn.shift[0]]), torch.tensor([drawn.shift[1]]), torch.tensor([drawn.scale]),
                        torch.tensor([drawn.brightness]))
    assert torch.equal(edit, render_faces(person, aus, 32, nuisance))
    source_png = torch.tensor(np.asarray(Image.open(synth / source["path"]).convert("RGB"))).permute(2, 0, 1)
    assert (edit[0].double() - source_png.double()).abs().amax() > 50  # a surprised face is not the neutral one


def test_a_unilateral_target_is_drawn_on_the_source_persons_dominant_side(synth: Path) -> None:
    table = read_index(synth)
    renderer = IdealRenderer(synth)
    aus = torch.zeros(1, len(AU_COLUMNS))
    aus[0, AU_IDS.index(12)], aus[0, AU_IDS.index(14)] = 3.5, 4.0
    sides = set()
    for path in table.loc[table["expression"] == "neutral", "path"]:
        index, expression, variant = parse_image_path(path)
        person = sample_identity(5, index)
        side = float(person.side[0])
        sides.add(side)
        drawn = sample_expression(5, index, expression, variant, side)
        nuisance = Nuisance(*(torch.tensor([v]) for v in (*drawn.shift, drawn.scale, drawn.brightness)))
        # By hand: image halves are (left, right); the smirk is on the right half when side is +1.
        sided = torch.stack([aus[0], aus[0]])[None]
        sided[0, 0 if side > 0 else 1] = 0.0
        smirk = renderer.render([path], aus, ["contemptuous"])
        assert torch.equal(smirk, render_faces(person, sided, 32, nuisance)), path
        assert not torch.equal(smirk, renderer.render([path], aus, ["happy"]))  # a smile is drawn on both sides
    assert sides == {-1.0, 1.0}  # both dominant sides were checked


def test_alpha_moves_from_the_source_to_the_edit(synth: Path) -> None:
    table = read_index(synth)
    path = table["path"].iloc[0]
    aus = torch.full((1, len(AU_COLUMNS)), 4.0)
    renderer = IdealRenderer(synth)
    start, middle, end = (renderer.render([path], aus, ["angry"], alpha=a)[0].double() for a in (0.0, 0.5, 1.0))
    assert np.array_equal(start.permute(1, 2, 0).numpy(), np.asarray(Image.open(synth / path).convert("RGB")))
    assert 0 < (middle - start).abs().sum() < (end - start).abs().sum()


def test_a_folder_that_is_not_synthfacs_has_no_ideal_renders(tiny_dataset: Path) -> None:
    with pytest.raises(DataError, match=r"no ideal renders") as caught:
        IdealRenderer(tiny_dataset)
    assert str(tiny_dataset) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("path", ["images/id003/happy.png", "img/id003/happy_0.png", "images/id003/bored_1.png"])
def test_a_path_that_is_not_a_render_is_refused(path: str) -> None:
    with pytest.raises(DataError, match="not a SynthFACS image path"):
        parse_image_path(path)
