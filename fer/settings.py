"""Where the app keeps and finds files: settings from the environment, with defaults."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTALLED_MODELS = Path(__file__).resolve().parent / "model_files"
"""Where an installed package keeps the models: the wheel maps the checkout's ``models/``
folder (serving files and cards) to ``fer/model_files`` (see pyproject.toml)."""


def cache_dir() -> Path:
    """User cache folder (``$FER_CACHE_DIR``, else ``$XDG_CACHE_HOME/fer-dashboard``)."""
    if os.environ.get("FER_CACHE_DIR"):
        return Path(os.environ["FER_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fer-dashboard"


def models_dir() -> Path:
    """Folder of the shipped models and their cards: ``$FER_MODELS_DIR``, else the installed
    package's copy (``pip install``), else the checkout's ``models/``."""
    if os.environ.get("FER_MODELS_DIR"):
        return Path(os.environ["FER_MODELS_DIR"])
    return INSTALLED_MODELS if INSTALLED_MODELS.is_dir() else PROJECT_ROOT / "models"
