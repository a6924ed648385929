"""fer: facial expression recognition on FER2013-trained CNNs, usable without Streamlit."""

from .emotions import EMOTIONS
from .errors import DatasetError, FerError, ImageLoadError, ModelNotFoundError

__all__ = ["EMOTIONS", "FerError", "ImageLoadError", "ModelNotFoundError", "DatasetError"]
