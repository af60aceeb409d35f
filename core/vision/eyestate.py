"""Eye closure from the eye itself: a tiny open/closed CNN on 24x24 grayscale eye patches.

The eye aspect ratio (EAR) reads the lids from six landmarks, and a smile or a squint
lowers it as much as a closure does. The network looks at the pixels instead: an iris
and a white (open) or a lash line across skin (closed). It was trained on CEW (Closed Eyes
in the Wild, ``classroom model train-eyes``; model card: ``checkpoints/eyes/README.md``),
hence its registry name ``eye_cnn.cew`` (``arch.tag``, ``core.vision.registry``).

Patches are cut the way CEW frames its eyes: rotated so the eye corners are level, the
eye centred, the corner-to-corner width ``EYE_WIDTH_IN_PATCH`` of the 24 px side.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from core.vision.registry import create_model, register_model

PATCH_PX = 24
EYE_WIDTH_IN_PATCH = 0.6
"""Corner-to-corner eye width as a share of the patch side (CEW's eyes span ~14 of 24 px)."""
EYE_CORNERS = ((36, 39), (42, 45))
"""Landmark indices of the outer and inner corners of each eye (iBUG 300-W layout)."""
MIN_EYE_PX = 1.0

MAX_READABLE_YAW = 30.0
"""Degrees. A head turned further shows one eye edge-on and the other foreshortened: the
patch no longer holds an eye the way CEW frames one."""
MAX_READABLE_PITCH_DOWN = 10.0
"""Degrees below the camera's axis. Past this the camera looks onto the upper lids of a
lowered gaze, and an open eye reading a page looks like a closed one."""
MAX_READABLE_SMILE = 0.675
"""Mouth width over the outer-eye-corner distance. Above it the face smiles broadly, the
cheeks narrow the eyes (a Duchenne smile) and a 24 px patch cannot tell the squint from a
closure. 0.675 is the 90th percentile of FER2013 Training's neutral faces, where it is
exceeded by 68% of the happy ones (``bench/smile_gate.py``)."""


def smile_width(points: np.ndarray) -> float:
    """Mouth-corner distance over outer-eye-corner distance (68 landmarks): ~0.58 for a
    neutral face, ~0.72 for a smiling one, and unchanged by the face's size or yaw."""
    eyes = float(np.linalg.norm(points[45] - points[36]))
    return float(np.linalg.norm(points[54] - points[48])) / max(eyes, 1e-6)


def eyes_readable(points: np.ndarray, yaw: float, pitch: float) -> bool:
    """Whether eye closure can be read from this face at all: roughly frontal, not looking
    down past the camera, not in a broad smile. Elsewhere the eye state is unknown."""
    return (
        abs(yaw) <= MAX_READABLE_YAW
        and pitch >= -MAX_READABLE_PITCH_DOWN
        and smile_width(points) <= MAX_READABLE_SMILE
    )


class EyeStateNet(nn.Module):
    """Three conv-BN-ReLU-pool stages (24 -> 12 -> 6 -> 3) and a linear layer: one logit,
    positive for a closed eye. ~19k parameters."""

    def __init__(self) -> None:
        super().__init__()

        def stage(inputs: int, outputs: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
                nn.BatchNorm2d(outputs),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )

        self.features = nn.Sequential(stage(1, 16), stage(16, 32), stage(32, 48))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(48 * 3 * 3, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


def normalized(patches: np.ndarray) -> torch.Tensor:
    """(N, 24, 24) uint8 -> (N, 1, 24, 24) float, each patch to zero mean and unit spread:
    the camera's exposure and the skin's brightness then do not move the decision."""
    values = torch.from_numpy(patches.astype(np.float32)).unsqueeze(1)
    mean = values.mean(dim=(2, 3), keepdim=True)
    spread = values.std(dim=(2, 3), keepdim=True).clamp_min(4.0)
    return (values - mean) / spread


def eye_patch(gray: np.ndarray, outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 24x24 patch of one eye given its two corner points (frame coordinates)."""
    direction = inner - outer
    width = max(float(np.hypot(*direction)), MIN_EYE_PX)
    scale = PATCH_PX * EYE_WIDTH_IN_PATCH / width
    angle = np.degrees(np.arctan2(direction[1], direction[0]))
    if abs(angle) > 90:  # the right eye's corners run right to left: keep the eye upright
        angle -= 180 * np.sign(angle)
    centre = (outer + inner) / 2
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    matrix[:, 2] += PATCH_PX / 2 - centre
    return cv2.warpAffine(
        gray, matrix, (PATCH_PX, PATCH_PX), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


def eye_patches(gray: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(2, 24, 24) patches of both eyes of one face from its 68 landmarks."""
    return np.stack([eye_patch(gray, points[a], points[b]) for a, b in EYE_CORNERS])


class EyeStateClassifier:
    """Closed-eye probability of faces, both eyes of every face of a batch in one pass."""

    def __init__(self, name: str) -> None:
        """``name``: a registered eye-state model, or the path of a weights file that
        ``classroom model train-eyes`` wrote (``*.pt``)."""
        if name.endswith(".pt"):
            self.model = load_eye_state_net(Path(name)).eval()
        else:
            self.model = create_model("eye_state", name).eval()

    def closed_probability(self, patches: np.ndarray) -> np.ndarray:
        """(N,) probability that each (N, 24, 24) uint8 eye patch shows a closed eye."""
        if len(patches) == 0:
            return np.zeros(0, np.float32)
        with torch.inference_mode():
            return torch.sigmoid(self.model(normalized(patches))).numpy()

    def faces_closed(self, gray_points: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[float]:
        """Per face (its frame's gray image, its landmarks), the mean closed probability
        of its two eyes. The mean, not the max: people blink with both eyes, and one eye
        hidden by a turned head or a glasses reflection should pull, not decide."""
        if not gray_points:
            return []
        patches = np.concatenate([eye_patches(gray, points) for gray, points in gray_points])
        closed = self.closed_probability(patches).reshape(-1, 2)
        return [float(value) for value in closed.mean(axis=1)]


SHIPPED_EYE_WEIGHTS = Path(__file__).parent / "checkpoints" / "eyes"
EYE_CNN_WEIGHTS = {"cew": SHIPPED_EYE_WEIGHTS / "eye_cnn.pt"}
"""Tag -> the shipped weights of ``EyeStateNet``; ``cew``: trained on CEW (model card
``checkpoints/eyes/README.md``)."""


def load_eye_state_net(path: Path) -> EyeStateNet:
    model = EyeStateNet()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model


@register_model("eye_state", tags=tuple(EYE_CNN_WEIGHTS))
def eye_cnn(tag: str) -> EyeStateNet:
    return load_eye_state_net(EYE_CNN_WEIGHTS[tag])
