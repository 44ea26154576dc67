"""``RUN/results.json`` is merged, never replaced: each command writes its own parts and keeps the rest.

Several commands contribute to one results file: `evaluate` scores the rows (``format``, ``meta``,
``au_names``, ``metrics``, ``rows``), `throughput --run` measures ``throughput``, `run` adds the
example images (``examples``), and a command added later may write keys of its own. The rule, so
that no command loses what another one computed:

- a command writes the top-level keys it computed and keeps every other top-level key of the file
  exactly as it found it (``merge``);
- a kept part that records the checkpoints it was made from (``checkpoint_steps``: label -> step of
  that label's first seed, as ``examples`` does) is dropped, with a message, when those are no
  longer the checkpoints whose rows were just written: it would show other models than the tables.
  `run` makes such a part again.

Every write is atomic (``eggan.io``) and happens under the run folder's lock (``eggan.core.lock``,
taken by the caller), so a reader sees the previous file or the new one, never a mix, and two
commands never interleave their read and their write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eggan.io import atomic_write_json

RESULTS_NAME = "results.json"
Log = Callable[[str], None]


def read_previous(path: Path, log: Log) -> dict[str, Any]:
    """The results file as it is now; {} when there is none or it cannot be read (said in ``log``)."""
    if not path.is_file():
        return {}
    try:
        previous = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log(f"{path}: unreadable ({getattr(exc, 'msg', exc)}); none of its parts can be kept")
        return {}
    if not isinstance(previous, dict):
        log(f"{path}: not a results object; none of its parts can be kept")
        return {}
    return previous


def merge(previous: dict[str, Any], produced: dict[str, Any], log: Log) -> dict[str, Any]:
    """``produced`` with every other top-level key of ``previous`` kept (the module's rule)."""
    steps = scored_steps(produced.get("rows", previous.get("rows")) or [])
    merged = dict(produced)
    for key, part in previous.items():
        if key in merged:
            continue
        stale = stale_checkpoints(part, steps)
        if stale:
            log(f"{key}: made from other checkpoints ({'; '.join(stale)}); dropped, `eggan-bench run` makes it again")
            continue
        merged[key] = part
    return merged


def scored_steps(rows: list[dict[str, Any]]) -> dict[str, int]:
    """label -> checkpoint step of the label's first seed, for every scored method row."""
    steps = {}
    for row in rows:
        seeds = row.get("checkpoint_steps") if isinstance(row, dict) else None
        if isinstance(seeds, dict) and seeds:
            steps[row["label"]] = seeds[min(seeds, key=int)]
    return steps


def stale_checkpoints(part: Any, steps: dict[str, int]) -> list[str]:
    """What in ``part`` was made from another checkpoint than the one scored now ([] when nothing
    was, or the part records no checkpoints)."""
    made = part.get("checkpoint_steps") if isinstance(part, dict) else None
    if not isinstance(made, dict):
        return []
    return [f"{label} at step {step}, scored at {steps.get(label, 'no step: not scored')}"
            for label, step in made.items() if steps.get(label) != step]


def write_results(run_dir: str | Path, produced: dict[str, Any], log: Log = lambda _msg: None,
                  defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge ``produced`` into ``RUN/results.json`` and write it atomically; returns what was written.

    ``defaults`` are parts taken only when the file does not hold them yet (a throughput measured
    before the first evaluation). The caller holds the run folder's lock.
    """
    path = Path(run_dir) / RESULTS_NAME
    previous = read_previous(path, log)
    merged = merge({**(defaults or {}), **previous}, produced, log)
    atomic_write_json(path, merged)
    return merged
