"""The package layout as a reader relies on it: imports flow data -> core -> methods -> evaluate ->
reports -> cli, no method imports another, and no module imports itself back through others.

Imports are read from the source (function-level ones included), so a lazy import cannot hide a
cycle or a layer broken the other way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from eggan.core.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("eggan", "baselines", "evaluate", "reports")
# Lowest first; a module may import its own layer and any layer to its left, except that the
# methods (EGGAN and the baselines) are side by side and may not import each other.
METHODS = ("eggan.egg", "baselines")
LAYERS: tuple[tuple[str, ...], ...] = (
    ("eggan", "eggan.errors", "eggan.io", "eggan.limits"),  # the version, one-line errors, atomic writes, int limits
    ("eggan.data",),
    ("eggan.core",),
    METHODS,
    ("evaluate",),
    ("reports",),
    ("eggan.cli", "eggan.__main__"),
)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The suite's modules ``path`` imports, at any depth of the file (lazy imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:  # `from eggan.egg import losses` imports a module
                full = f"{node.module}.{alias.name}"
                out.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {name for name in out if name in known}


def place(module: str) -> tuple[int, str]:
    """(layer index, owning package) by the longest matching prefix."""
    matches = [(len(pkg), index, pkg) for index, layer in enumerate(LAYERS) for pkg in layer
               if module == pkg or module.startswith(pkg + ".")]
    _, index, pkg = max(matches)
    return index, pkg


def test_imports_flow_from_data_to_reports() -> None:
    known = modules()
    wrong = []
    for name, path in known.items():
        layer, package = place(name)
        for target in imports(path, known):
            their_layer, their_package = place(target)
            sideways = package in METHODS and their_package in METHODS and their_package != package
            if their_layer > layer or sideways:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_itself_back() -> None:
    known = modules()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(target):], target]))
            if target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_plugin_methods_live_outside_and_use_only_the_interface() -> None:
    """A method of another package (entry-point group ``eggan_bench.methods``, ``eggan.core.registry``)
    is allowed outside eggan.egg/baselines: it sees the suite through the Method interface (the core
    and the data layer) only, and nothing in the suite imports it."""
    known = modules()
    plugin = ROOT / "examples" / "plugin-identity" / "eggan_plugin_identity" / "__init__.py"
    used = imports(plugin, known)
    assert used and all(place(name)[0] <= LAYERS.index(("eggan.core",)) for name in used), used
    assert not any("eggan_plugin_identity" in path.read_text() for path in known.values())


def test_every_method_lives_in_a_method_package() -> None:
    for name, entry in REGISTRY.items():
        module = entry.partition(":")[0]
        assert place(module)[1] in METHODS, f"{name} is registered from {module}, outside eggan.egg/baselines"
