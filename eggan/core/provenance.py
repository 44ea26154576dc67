"""What ties a trained model to what it learned from: its data's fingerprint and its own config.

Data. Every checkpoint records, under ``dataset``, the fingerprint of the data it was trained on
(``FaceDataset.fingerprint``: the index and every decoded pixel at the working size) and, under
``earlier``, the fingerprints of data it was trained on before, which happens only when a resume
was explicitly allowed to go on with other data. Resuming, rerunning or evaluating a checkpoint on
data with another fingerprint (a dataset re-rendered with ``--force``, an image replaced, a label
edited) is refused in one line naming both fingerprints, unless the caller allows it
(``--allow-other-data``); then the difference is returned as a note that the results record and
every caption states. A checkpoint from before fingerprints were recorded counts as other data.

Config. The checkpoint's own config is the authority on how a model was trained; the
``config.json`` beside it is a copy for people and scripts to read. A copy that says otherwise
(edited by hand, copied from another run) is refused in one line naming the first difference, so
no false record survives next to the model. Settings that may change on a resume without changing
the model (``RESUMABLE_CHANGES``) are not compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eggan.errors import ConfigError
from eggan.io import atomic_write_json

ALLOW_FLAG = "--allow-other-data"
UNRECORDED = "none recorded"
# Settings that may change between a run and its resumption without changing the result.
RESUMABLE_CHANGES = {"checkpoint_every", "sample_every", "log_every", "monitor_every", "device"}


def dataset_record(fingerprint: str, name: str, resumed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``dataset`` entry of a checkpoint trained on data ``fingerprint``; ``resumed`` is the
    payload of the checkpoint this run continues (None for a fresh run)."""
    earlier: list[str] = []
    if resumed is not None:
        before = resumed.get("dataset") or {}
        earlier = list(before.get("earlier", []))
        trained = before.get("fingerprint") or UNRECORDED
        if trained != fingerprint and trained not in earlier:
            earlier.append(trained)
    return {"name": name, "fingerprint": fingerprint, "earlier": earlier}


def check_data(payload: dict[str, Any], fingerprint: str, path: str | Path, allow: bool,
               remedy: str = "") -> dict[str, Any] | None:
    """None when the checkpoint ``payload`` learned from exactly the data ``fingerprint``.

    Otherwise a ``ConfigError`` naming both fingerprints, or with ``allow`` a note of what it
    learned from (``trained_on``, ``earlier``) for the results and the captions. ``remedy`` names
    what else the user can do (e.g. "--fresh to start again").
    """
    record = payload.get("dataset") or {}
    trained = record.get("fingerprint") or UNRECORDED
    earlier = list(record.get("earlier", []))
    if trained == fingerprint and not earlier:
        return None
    if trained != fingerprint and not allow:
        other = f", {remedy}," if remedy else ""
        raise ConfigError(
            f"trained on data with fingerprint {trained}, but the data is now {fingerprint} (re-rendered, edited "
            f"or another folder); use the data it was trained on{other} or pass {ALLOW_FLAG} to use it anyway "
            "(said in every caption)", path)
    return {"trained_on": trained, "earlier": earlier, "scored_on": fingerprint}


def describe_other_data(notes: dict[str, dict[str, Any]]) -> str:
    """One sentence for the captions: which models learned from other data than the one scored."""
    parts = []
    for who, note in notes.items():
        learned = [*note["earlier"], note["trained_on"]]
        parts.append(f"{who} (trained on {' then '.join(learned)})")
    scored = next(iter(notes.values()))["scored_on"]
    return (f"WARNING: models trained wholly or partly on other data than the data scored here ({scored}): "
            f"{', '.join(parts)}; allowed with {ALLOW_FLAG}.")


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    plain = json.loads(json.dumps(config, default=str))  # tuples as lists, as config.json holds them
    if isinstance(plain.get("train"), dict):
        plain["train"] = {k: v for k, v in plain["train"].items() if k not in RESUMABLE_CHANGES}
    return plain


def first_difference(a: Any, b: Any, prefix: str = "") -> str | None:
    """The dotted key of the first value that differs between two JSON-like trees, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            found = first_difference(a.get(key, "<absent>"), b.get(key, "<absent>"), f"{prefix}{key}.")
            if found:
                return found
        return None
    return None if a == b else f"{prefix.rstrip('.')}: {a!r} in config.json, {b!r} in the checkpoint"


def check_config_copy(folder: str | Path, checkpoint_config: dict[str, Any]) -> None:
    """Refuse a ``config.json`` in ``folder`` that differs from the checkpoint's own config."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        return
    try:
        copy = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"not a readable run config ({getattr(exc, 'msg', exc)}); delete it: the next `train` or "
                          "`run` writes it again from the checkpoint", path) from None
    difference = first_difference(_comparable(copy) if isinstance(copy, dict) else copy,
                                  _comparable(checkpoint_config))
    if difference:
        raise ConfigError(f"differs from the checkpoint's own config ({difference}): edited by hand or copied from "
                          "another run; delete it: the next `train` or `run` writes it again from the checkpoint",
                          path)


def restore_config_copy(folder: str | Path, checkpoint_config: dict[str, Any]) -> None:
    """Write ``config.json`` from the checkpoint's own config when it is missing (else check it)."""
    path = Path(folder) / "config.json"
    if path.is_file():
        check_config_copy(folder, checkpoint_config)
    else:
        atomic_write_json(path, checkpoint_config)
