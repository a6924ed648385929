"""fer: facial expression recognition on FER2013-trained CNNs, usable without Streamlit.

from fer import AnalysisConfig, Results, get_analyzer
faces = get_analyzer(AnalysisConfig(model="deep", detector="yunet")).analyze("photo.jpg")
Results.from_faces(faces, image="photo.jpg").to_csv("faces.csv")
"""

from .config import AnalysisConfig
from .emotions import EMOTIONS
from .errors import DatasetError, FerError, ImageLoadError, ModelNotFoundError, VideoError
from .output.results import Results
from .serving.analyzer import Analyzer, FaceResult, get_analyzer

__all__ = [
    "AnalysisConfig",
    "Analyzer",
    "FaceResult",
    "get_analyzer",
    "EMOTIONS",
    "FerError",
    "ImageLoadError",
    "ModelNotFoundError",
    "DatasetError",
    "Results",
    "VideoError",
]


def _warn_if_pypi_fer_shares_this_folder() -> None:
    """PyPI's "fer" (another library) has the same import name. Installed into the same
    environment it writes its modules into this folder (its fer.py, classes.py), and whichever
    package came last owns ``__init__.py``. Two stat calls; the README says what to do."""
    import warnings
    from pathlib import Path

    here = Path(__file__).resolve().parent
    if any((here / name).exists() for name in ("fer.py", "classes.py")):
        warnings.warn(
            f"{here} also holds files of PyPI's 'fer' package, a different library with the "
            "same import name; this is fer-dashboard's `fer`. Install fer-dashboard in its own "
            "virtual environment (see its README), or `pip uninstall fer fer-dashboard` and "
            "reinstall the one you need.",
            RuntimeWarning,
            stacklevel=3,
        )


_warn_if_pypi_fer_shares_this_folder()
