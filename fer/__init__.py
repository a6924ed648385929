"""fer: facial expression recognition on FER2013-trained CNNs, usable without Streamlit.

    from fer import Analyzer
    faces = Analyzer(model="deep", detector="yunet").analyze("photo.jpg")
"""

from .analyzer import Analyzer, FaceResult
from .emotions import EMOTIONS
from .errors import DatasetError, FerError, ImageLoadError, ModelNotFoundError, VideoError

__all__ = ["Analyzer", "FaceResult", "EMOTIONS", "FerError", "ImageLoadError",
           "ModelNotFoundError", "DatasetError", "VideoError"]
