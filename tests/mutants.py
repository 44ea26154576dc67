"""The mutation check: do the tests catch the bugs a refactor or a new recipe plausibly introduces?

Each mutant (listed in ``tests/mutant_list.py``) is one small, realistic change to a core module
(a loss on the wrong tensor, a flipped sign, a swapped argument, an off-by-one, a check left out)
with the few tests that should catch it. The script copies the working tree to a temporary
folder, applies the mutants one at a time there (the working tree is never touched), runs each
one's tests, and reports which mutants the tests killed (a test failed) and which survived (every
test passed). A mutant whose original text is not found exactly once stops the run: the list must
follow the code.

    nice -n 15 python tests/mutants.py                    # every mutant; the kill rate and a table
    nice -n 15 python tests/mutants.py --jobs 2           # two at a time, one torch thread each
    nice -n 15 python tests/mutants.py --only gp-sign,pcc-mask-or --no-baseline
    python tests/mutants.py --list                        # the mutants, their kinds and tests
    python tests/mutants.py --check                       # each still applies (seconds, no tests run)

Not collected by pytest (the file name does not start with ``test_``). The result of the last full
run is in CONTRIBUTING.md. Exit status: 0 when the kill rate reaches ``--target`` and every mutant
marked ``required`` (the kinds issue 22 named) is killed, 1 otherwise, 2 on a stale mutant.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mutant_list import MUTANTS, Mutant, StaleMutant

ROOT = Path(__file__).resolve().parent.parent


def copy_tree(destination: Path) -> None:
    """The files git would commit (tracked, and untracked but not ignored), as they are now."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def run_tests(tree: Path, tests: tuple[str, ...], timeout: float, threads: int) -> tuple[str, float, str]:
    """``killed`` (a test failed), ``survived`` (all passed), ``error`` (pytest could not run them) or
    ``timeout``, the seconds taken and the tail of pytest's output."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", *tests]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start, ""
    status = {0: "survived", 1: "killed"}.get(done.returncode, "error")
    return status, time.perf_counter() - start, (done.stdout + done.stderr)[-1500:]


def check_tree_is_imported(tree: Path) -> None:
    """The copy's packages, not the editable install's, are what its tests import."""
    probe = "import eggan, evaluate, reports, baselines; print(eggan.__file__)"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    where = subprocess.run([sys.executable, "-c", probe], cwd=tree, env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"the copy is not what Python imports ({where}); run from the repository's virtual env")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated mutant names")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--check", action="store_true", help="check every mutant still applies, and exit")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per mutant (a hang guard)")
    parser.add_argument("--target", type=float, default=0.9, help="the kill rate to reach")
    parser.add_argument("--no-baseline", action="store_true", help="no baseline run of the unmutated tests")
    parser.add_argument("--verbose", action="store_true", help="pytest's output for every surviving mutant")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once, each in its own copy of the "
                        "tree with cores / jobs torch threads")
    args = parser.parse_args()
    chosen = list(MUTANTS)
    if args.only:
        names = args.only.split(",")
        unknown = sorted(set(names) - {m.name for m in MUTANTS})
        if unknown:
            parser.error(f"unknown mutants: {', '.join(unknown)}")
        chosen = [m for m in MUTANTS if m.name in names]
    if args.list:
        for m in chosen:
            print(f"{m.name:40} {m.kind:14} {m.path:32} {'required ' if m.required else ''}{' '.join(m.tests)}")
        return 0
    if len({m.name for m in MUTANTS}) != len(MUTANTS):
        raise SystemExit("two mutants share a name")

    for m in chosen:
        try:
            m.apply((ROOT / m.path).read_text())
        except StaleMutant as exc:
            print(f"stale mutant: {exc}", file=sys.stderr)
            return 2
    if args.check:
        print(f"{len(chosen)} mutants apply")
        return 0
    started = time.perf_counter()
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    with tempfile.TemporaryDirectory(prefix="eggan-mutants-") as folder:
        trees = [Path(folder) / f"tree{i}" for i in range(args.jobs)]
        for tree in trees:
            copy_tree(tree)
        check_tree_is_imported(trees[0])
        if not args.no_baseline:
            selection = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
            status, seconds, output = run_tests(trees[0], selection, args.timeout, threads)
            print(f"unmutated tests: {'pass' if status == 'survived' else status} ({seconds:.0f} s)", flush=True)
            if status != "survived":
                print(output, file=sys.stderr)
                return 1
        free: queue.Queue[Path] = queue.Queue()
        for tree in trees:
            free.put(tree)
        done: list[tuple[Mutant, str, float]] = []
        lock = threading.Lock()

        def run(m: Mutant) -> None:
            tree = free.get()
            original = (tree / m.path).read_text()
            (tree / m.path).write_text(m.apply(original))
            try:
                status, seconds, output = run_tests(tree, m.tests, args.timeout, threads)
            finally:
                (tree / m.path).write_text(original)
                free.put(tree)
            with lock:
                done.append((m, status, seconds))
                print(f"[{len(done)}/{len(chosen)}] {status:8} {seconds:6.0f} s  {m.name} ({m.kind}, {m.path})",
                      flush=True)
                if status != "killed" and args.verbose:
                    print(output, flush=True)

        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(run, chosen))
    order = {m.name: i for i, m in enumerate(chosen)}
    return report(sorted(done, key=lambda r: order[r[0].name]), time.perf_counter() - started, args.target)


def report(results: list[tuple[Mutant, str, float]], seconds: float, target: float) -> int:
    killed = [m for m, status, _ in results if status == "killed"]
    alive = [(m, status) for m, status, _ in results if status != "killed"]
    rate = len(killed) / len(results)
    print(f"\n{len(killed)} of {len(results)} mutants killed ({100 * rate:.1f} %) in {seconds / 60:.1f} min")
    kinds = sorted({m.kind for m, _, _ in results})
    for kind in kinds:
        of_kind = [status for m, status, _ in results if m.kind == kind]
        print(f"  {kind:14} {of_kind.count('killed')}/{len(of_kind)}")
    for m, status in alive:
        print(f"  {status}: {m.name} ({m.path}: {m.old!r} -> {m.new!r})")
    missed_required = [m.name for m, _ in alive if m.required]
    if missed_required:
        print(f"required mutants not killed: {', '.join(missed_required)}")
    return 0 if rate >= target and not missed_required else 1


if __name__ == "__main__":
    sys.exit(main())
