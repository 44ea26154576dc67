"""results.json is merged, never replaced: a command's own parts replace theirs, every other part
is kept as it was, and a kept part made from other checkpoints than the rows is dropped, said."""

from __future__ import annotations

import json
from pathlib import Path

from evaluate.results_store import merge, write_results

ROWS = [{"label": "Source (no edit)", "checkpoint_steps": {}},
        {"label": "eggan", "checkpoint_steps": {"1": 40, "0": 30}}]  # first seed: 0, at step 30


def test_a_command_replaces_its_parts_and_keeps_every_other(tmp_path: Path) -> None:
    previous = {"format": "f", "rows": [], "throughput": {"eggan": 1.0}, "ground_truth": [1, 2],
                "examples": {"checkpoint_steps": {"eggan": 30}, "source": ["png"]}}
    (tmp_path / "results.json").write_text(json.dumps(previous))
    messages: list[str] = []
    written = write_results(tmp_path, {"format": "f", "rows": ROWS}, messages.append)
    assert written == {"format": "f", "rows": ROWS, "throughput": {"eggan": 1.0}, "ground_truth": [1, 2],
                       "examples": previous["examples"]}
    assert json.loads((tmp_path / "results.json").read_text()) == written and messages == []


def test_a_part_made_from_other_checkpoints_is_dropped_with_a_message() -> None:
    messages: list[str] = []
    previous = {"examples": {"checkpoint_steps": {"eggan": 20, "stargan": 10}}, "throughput": {}}
    merged = merge(previous, {"rows": ROWS}, messages.append)
    assert merged == {"rows": ROWS, "throughput": {}}
    assert messages == ["examples: made from other checkpoints (eggan at step 20, scored at 30; stargan at step 10, "
                        "scored at no step: not scored); dropped, `eggan-bench run` makes it again"]


def test_a_part_alone_is_checked_against_the_rows_on_disk() -> None:
    """`throughput --run` writes one part: the examples stay when they match the rows already there."""
    previous = {"rows": ROWS, "examples": {"checkpoint_steps": {"eggan": 30}}}
    assert merge(previous, {"throughput": {"eggan": 2.0}}, print) == {**previous, "throughput": {"eggan": 2.0}}


def test_defaults_fill_only_what_the_file_lacks(tmp_path: Path) -> None:
    assert write_results(tmp_path, {"rows": []}, defaults={"throughput": None}) == {"rows": [], "throughput": None}
    (tmp_path / "results.json").write_text(json.dumps({"rows": [], "throughput": {"eggan": 3.0}}))
    assert write_results(tmp_path, {"rows": []}, defaults={"throughput": None})["throughput"] == {"eggan": 3.0}


def test_an_unreadable_file_keeps_nothing_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text('{"rows": [')
    messages: list[str] = []
    assert write_results(tmp_path, {"rows": []}, messages.append) == {"rows": []}
    assert messages == [f"{tmp_path / 'results.json'}: unreadable (Expecting value); none of its parts can be kept"]
