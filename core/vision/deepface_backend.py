"""deepface as an optional plug-in of the vision registry (pip extra ``deepface``).

``core.vision.registry`` imports this module only when a setting names one of the models
it registers:

- ``vision.identity_model``: ``deepface_facenet`` (FaceNet, 128-D), ``deepface_facenet512``
  (512-D), ``deepface_arcface`` (ArcFace, 512-D);
- ``vision.expression_model``: ``deepface_emotion`` (deepface's 48x48 gray CNN);
- ``vision.detector``: ``deepface_opencv``, ``deepface_ssd``, ``deepface_yunet``,
  ``deepface_centerface``, ``deepface_dlib``.

deepface runs on its PyTorch engine (``DEEPFACE_BACKEND_ENGINE=pytorch``, set here unless
the environment already says otherwise, which is then refused). deepface downloads any
weights file it does not find; schools run air-gapped, so this backend never lets it:
every file a model needs is checked in ``$DEEPFACE_HOME/.deepface/weights/`` before the
model is built, and deepface's download function is replaced by a lookup that raises
``DeepfaceWeightsMissing`` instead of opening a connection. docs/deepface.md tells school
IT how to provision the files.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import dlib
import numpy as np
import torch
from torch import nn

from core.vision.device import resolve_device
from core.vision.faces import Faces
from core.vision.registry import register_model
from core.vision.weights import WeightsMissing
from schemas.settings import VisionSettings

ENGINE = "pytorch"


class DeepfaceUnavailable(ImportError):
    """deepface is not installed, or is set to an engine other than PyTorch."""


class DeepfaceWeightsMissing(WeightsMissing):
    """A weights file deepface needs is not in the provisioned ``DEEPFACE_HOME``."""


os.environ.setdefault("DEEPFACE_BACKEND_ENGINE", ENGINE)
try:
    from deepface.commons import backend_utils, folder_utils, weight_utils
    from deepface.modules import modeling
except ModuleNotFoundError as exc:
    raise DeepfaceUnavailable(
        "the deepface backend needs deepface: run scripts/setup-deepface.sh (see docs/deepface.md)"
    ) from exc


def weights_dir() -> Path:
    """Where deepface reads weights: ``$DEEPFACE_HOME/.deepface/weights`` (home: ``~``)."""
    return Path(folder_utils.get_deepface_home()) / ".deepface" / "weights"


def missing_weights_error(files: list[str]) -> DeepfaceWeightsMissing:
    directory = weights_dir()
    return DeepfaceWeightsMissing(
        f"deepface weights missing: {', '.join(files)}; put them in {directory} "
        f"(DEEPFACE_HOME={folder_utils.get_deepface_home()}), see docs/deepface.md. "
        "This backend never downloads them."
    )


def provisioned_weights(file_name: str, source_url: Any = None, compress_type: Any = None) -> str:
    """Stands in for deepface's ``download_weights_if_necessary``: the file, or an error."""
    path = weights_dir() / file_name
    if not path.is_file():
        raise missing_weights_error([file_name])
    return str(path)


# Every deepface model module calls weight_utils.download_weights_if_necessary through the
# module attribute, so replacing it here covers them all, including files a model asks for
# that the tables below do not list.
weight_utils.download_weights_if_necessary = provisioned_weights


def build(task: str, model_name: str, files: tuple[str, ...]) -> Any:
    """A fresh deepface model of the PyTorch engine, after checking its weights files."""
    if backend_utils.get_backend_engine() != ENGINE:
        raise DeepfaceUnavailable(
            f"DEEPFACE_BACKEND_ENGINE is {os.environ.get('DEEPFACE_BACKEND_ENGINE')!r}; "
            f"this backend runs deepface on {ENGINE!r} only"
        )
    missing = [name for name in files if not (weights_dir() / name).is_file()]
    if missing:
        raise missing_weights_error(missing)
    # get_model_class, not build_model: deepface caches built models per process, which
    # would hide a DEEPFACE_HOME that changed or lost a file since.
    return modeling.get_model_class(task=task, model_name=model_name)()


def on_device(client: Any, device: torch.device) -> Any:
    """deepface puts its models on cuda:0 when it can; ``vision.device`` decides instead."""
    client.model = client.model.to(device)
    client.device = device
    return client


RECOGNITION_MODELS: dict[str, tuple[str, str]] = {
    "deepface_facenet": ("Facenet", "facenet_weights.pth"),
    "deepface_facenet512": ("Facenet512", "facenet512_weights.pth"),
    "deepface_arcface": ("ArcFace", "arcface_weights.pth"),
}
"""Our name -> (deepface model name, its weights file)."""

FACE_CHIP_PADDING = 0.25
"""Margin of dlib's aligned face chip, in face widths: close to the tight detector crops
(eyes levelled) that deepface feeds its recognition models."""


class DeepfaceEncoder:
    """A deepface recognition model as ``FaceEncoder``: one batched forward per call.

    Faces are aligned by their landmarks (dlib's face chips at the model's input size), fed
    in BGR scaled to [0, 1] as deepface's ``represent`` does by default, and the embeddings
    are L2-normalised: the roster's Euclidean distance is then deepface's ``euclidean_l2``
    (same person under ~0.80 for FaceNet, ~1.13 for ArcFace: ``vision.identity_max_distance``).
    """

    def __init__(self, name: str, vision: VisionSettings) -> None:
        model_name, weights = RECOGNITION_MODELS[name]
        self.client = on_device(
            build("facial_recognition", model_name, (weights,)), resolve_device(vision.device)
        )
        self.size = self.client.input_shape[0]
        self.dimension = self.client.output_shape

    def encode(self, rgb: np.ndarray, shapes: list[dlib.full_object_detection]) -> np.ndarray:
        """Embeddings (N, dimension) of the faces whose landmark shapes are given."""
        if not shapes:
            return np.zeros((0, self.dimension), np.float32)
        batch = dlib.full_object_detections()
        batch.extend(shapes)
        chips = np.stack(dlib.get_face_chips(rgb, batch, self.size, FACE_CHIP_PADDING))
        embeddings = self.client.predict(chips[..., ::-1].astype(np.float32) / 255.0)
        embeddings = embeddings.reshape(len(shapes), self.dimension).astype(np.float32)
        return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True).clip(1e-12)


for _name in RECOGNITION_MODELS:
    register_model("identity", name=_name)(partial(DeepfaceEncoder, _name))


EMOTION_WEIGHTS = "facial_expression_model_weights.pth"


@register_model("expression", name="deepface_emotion")
class DeepfaceEmotion(nn.Module):
    """deepface's emotion CNN as a registry module: faces in [-1, 1] in, log-probabilities out.

    deepface's network ends in a softmax over ``EMOTION_LABELS``, which is our
    ``EXPRESSIONS`` order (checked in the tests); its log is a valid set of logits.
    """

    input_size = 48

    def __init__(self) -> None:
        super().__init__()
        # The ExpressionClassifier moves this module to vision.device.
        self.network = build("facial_attribute", "Emotion", (EMOTION_WEIGHTS,)).model.cpu()
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # deepface feeds the network gray faces in [0, 1].
        probabilities = self.network((x + 1.0) / 2.0)
        return torch.log(probabilities.clamp_min(1e-7))


DETECTOR_WEIGHTS: dict[str, tuple[str, ...]] = {
    "opencv": (),  # Haar cascades that ship inside the cv2 wheel
    "ssd": ("deploy.prototxt", "res10_300x300_ssd_iter_140000.caffemodel"),
    "yunet": ("face_detection_yunet_2023mar.onnx",),
    "centerface": ("centerface.onnx",),
    "dlib": ("shape_predictor_5_face_landmarks.dat",),
}
"""deepface detector backends offered, and the weights files each needs. Its others need
packages we do not install (mediapipe, ultralytics, retina-face, facenet-pytorch's code)."""

PROBABILITY_SCORES = frozenset({"ssd", "yunet", "centerface"})
"""Detectors whose confidence is a probability, so ``vision.min_detection_score`` applies.
opencv's is a cascade stage weight and dlib's an SVM margin: those keep every face."""


class DeepfaceDetector:
    """A deepface detector backend; deepface detects one image per call, so frames loop."""

    # dlib's HOG is what the 68-landmark model was trained on; the others are unmeasured.
    landmark_box_adjust = (0.0, 0.0, 0.0, 0.0)

    def __init__(self, backend: str, vision: VisionSettings) -> None:
        self.client = build("face_detector", backend, DETECTOR_WEIGHTS[backend])
        self.min_score = vision.min_detection_score if backend in PROBABILITY_SCORES else None

    def detect(self, frames: list[np.ndarray]) -> list[Faces]:
        faces = []
        for frame in frames:
            regions = self.client.detect_faces(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            found = Faces.from_corners(
                [(r.x, r.y, r.x + r.w, r.y + r.h) for r in regions],
                [r.confidence or 0.0 for r in regions],
            )
            if self.min_score is not None:
                found = found[found.confidence >= self.min_score]
            faces.append(found)
        return faces

    def follow(self, frame: np.ndarray, faces: Faces) -> Faces:
        return faces  # deepface's detectors take whole images only


for _backend in DETECTOR_WEIGHTS:
    register_model("detector", name=f"deepface_{_backend}")(partial(DeepfaceDetector, _backend))
