"""The command line: every command documents itself with examples, and user errors are one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import typer
from typer.testing import CliRunner

from eggan.cli import app, main


def command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths = []
    for name, command in root.commands.items():
        if hasattr(command, "commands"):  # a group such as `data`
            paths += [[name, sub] for sub in command.commands]
        else:
            paths.append([name])
    return paths


def test_top_level_help_lists_every_command_on_one_line() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=150)
    assert result.exit_code == 0
    for name in ("train", "edit", "interpolate", "evaluate", "throughput", "run", "report", "data", "weights"):
        line = next(line for line in result.output.splitlines() if line.strip().startswith(name + " "))
        assert not line.rstrip().endswith("...")


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_has_help_with_examples(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=150)
    assert result.exit_code == 0 and "Examples:" in result.output
    assert f"eggan-bench {' '.join(path)}" in result.output


def test_user_error_is_one_line_with_exit_status_2(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "eggan", "train", "--method", "pix2pix", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: unknown method 'pix2pix'; available: eggan, stargan, "
                                                "homointerp, ganimation"]


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    with mock.patch.object(sys, "argv", ["eggan-bench", *args]), pytest.raises(SystemExit) as done:
        main()
    return done.value.code, capsys.readouterr().err.strip().splitlines()


def test_ctrl_c_outside_a_training_says_how_to_go_on(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(_run: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("reports.report.build_report", interrupted)
    assert run_main(capsys, "report", "somewhere") == (130, ["interrupted; rerun the same command to continue"])


def test_an_error_is_printed_verbatim(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    odd = tmp_path / "[bold]run[/]"
    assert run_main(capsys, "report", str(odd)) == (
        2, [f"error: {odd}: no results.json: run `eggan-bench run` or `eggan-bench evaluate` first"])
