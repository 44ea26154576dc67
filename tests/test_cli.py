"""The command line: every command documents itself with examples, and user errors are one line."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path
from unittest import mock

import pytest
import typer
from hang_guard import HANG_GUARD_S
from typer.testing import CliRunner

from eggan.cli.main import app, main, show_warnings_as_lines
from eggan.errors import EgganWarning


def command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths = []
    for name, command in root.commands.items():
        if hasattr(command, "commands"):  # a group such as `data`
            paths += [[name, sub] for sub in command.commands]
        else:
            paths.append([name])
    return paths


def group_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    return [[]] + [[name] for name, command in root.commands.items() if hasattr(command, "commands")]


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("group", group_paths(), ids=lambda path: " ".join(["eggan-bench", *path]))
def test_command_lists_show_whole_sentences(group: list[str], columns: int) -> None:
    """Click shows a command's first sentence, cut with "..." when it does not fit the terminal."""
    result = CliRunner().invoke(app, [*group, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0
    listing = result.output.split("Commands:\n", 1)[1].splitlines()
    names = {path[len(group)] for path in command_paths() if path[: len(group)] == group}
    assert {line.split()[0] for line in listing if line.strip()} == names
    for line in filter(str.strip, listing):
        assert line.rstrip().endswith(".") and not line.rstrip().endswith("..."), line


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_has_help_with_examples(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=150)
    assert result.exit_code == 0 and "Examples:" in result.output
    assert f"eggan-bench {' '.join(path)}" in result.output


def test_user_error_is_one_line_with_exit_status_2(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "eggan", "train", "--method", "pix2pix", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: unknown method 'pix2pix'; available: eggan, stargan, "
                                                "homointerp, ganimation"]


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    with mock.patch.object(sys, "argv", ["eggan-bench", *args]), pytest.raises(SystemExit) as done:
        main()
    return done.value.code, capsys.readouterr().err.strip().splitlines()


def test_ctrl_c_outside_a_training_says_how_to_go_on(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(_run: object, **_options: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("reports.report.build_report", interrupted)
    assert run_main(capsys, "report", "somewhere") == (130, ["interrupted; rerun the same command to continue"])


def test_an_error_is_printed_verbatim(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    odd = tmp_path / "[bold]run[/]"
    assert run_main(capsys, "report", str(odd)) == (
        2, [f"error: {odd}: no results.json: run `eggan-bench run` or `eggan-bench evaluate` first"])


def test_every_warning_is_one_line_without_source_path(capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings():
        show_warnings_as_lines()
        for _ in range(3):  # e.g. one random VGG19 per trained EGGAN of a benchmark
            warnings.warn("a random VGG19 stands in for ImageNet weights (test)", EgganWarning, stacklevel=1)
        warnings.warn("another package's\nwarning (test)", UserWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert err.splitlines() == ["warning: a random VGG19 stands in for ImageNet weights (test)",
                                "warning: UserWarning: another package's warning (test)"]
    assert "test_cli.py" not in err and "warnings.warn" not in err  # no source path, no source line


def _options(command: list[str]) -> set[str]:
    """Every option name the typer command really has (e.g. {'--run', '--checkpoint', ...})."""
    group = typer.main.get_command(app)
    for name in command:
        group = group.commands[name]
    return {opt for param in group.params for opt in param.opts + param.secondary_opts if opt.startswith("--")}


@pytest.mark.parametrize("command, args", [
    (["evaluate"], ["--estimator", "openface", "--run", "{tmp}"]),
    (["evaluate"], ["--estimator", "openface", "--checkpoint", "{tmp}/checkpoint.pt"]),
    (["evaluate"], []),
    (["evaluate"], ["--checkpoint", "{tmp}/model.pt"]),
    (["run"], ["--estimator", "openface", "--preset", "smoke", "--out", "{tmp}/out"]),
    (["data", "openface"], ["{tmp}", "--out", "{tmp}/csv"]),
    (["throughput"], []),
])
def test_every_error_hint_names_options_the_command_has(command: list[str], args: list[str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no OpenFace binary anywhere
    (tmp_path / "face.png").write_bytes(b"")
    code, lines = run_main(capsys, *command, *(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", lines[0]))
    assert named, lines[0]  # each of these errors tells the user which option to use
    assert named <= _options(command), (lines[0], named - _options(command))
