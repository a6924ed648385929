"""Adding entries to a model card (``models/<name>.json``) from the serving side: only the given
keys are replaced, every other field is kept as it is, and the file is replaced atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import FerError


def merge_into_card(card_path: str | os.PathLike, updates: dict) -> Path:
    """Set each key of ``updates`` in the card (adding it at the end when new)."""
    path = Path(card_path)
    try:
        card = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError) as exc:
        raise FerError(f"model card {path} cannot be read ({exc})") from None
    if not isinstance(card, dict):
        raise FerError(f"model card {path} is not a JSON object")
    card.update(updates)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=1))
    os.replace(tmp, path)
    return path
