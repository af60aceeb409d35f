"""MTCNN face detector (Zhang et al. 2016), re-implemented in torch.

Three small networks in a cascade: PNet scans an image pyramid for face-like 12x12
windows, RNet re-scores 24x24 crops of those candidates, ONet re-scores 48x48 crops and
refines the boxes; a face ONet doubted gets a second ONet look on its refined box. The
weights are the ones shipped in the ``facenet-pytorch`` wheel
(``facenet_pytorch/data/{pnet,rnet,onet}.pt``), read as plain state dicts: the package
itself pins an old torch and is never imported.

Batching: every pyramid level of all frames of one size goes through PNet in one call, and
RNet/ONet each see every candidate of every frame in one call. Image resizing and cropping
happen on the CPU with OpenCV (cheap on uint8); only the network inputs travel to the
device. The pyramid starts at ``min_face_px``: a classroom needs no faces smaller than
that, and skipping the finer levels is where most of the time goes.
"""

from __future__ import annotations

from collections import defaultdict

import cv2
import numpy as np
import torch
from torch import nn

from core.vision.device import forward_in_chunks, model_dtype, to_device
from core.vision.weights import mtcnn_weights

PYRAMID_FACTOR = 0.709
STAGE_THRESHOLDS = (0.7, 0.7, 0.7)
"""Minimum face probability to survive PNet, RNet and ONet. The paper's PNet value is 0.6;
0.7 sends a quarter fewer candidates to RNet (~15% of the detection time) and found the
same faces on faces/annotated and 165 of the 166 on 24 classroom frames."""
MERGE_OVERLAP = 0.5
"""IoU above which candidates of one face merge after PNet and RNet. The published 0.7
sends ~3x more near-duplicates into the next net for the same faces found."""
PNET_CHUNK_PIXELS = 250_000
"""PNet takes a pyramid level in slices of about this many pixels: a slice whose
activations stay in the caches runs faster than the whole level at once (15.2 -> 13.4 ms
per 720p frame on one thread)."""


class PNet(nn.Module):
    """Proposal network: fully convolutional, one 12x12 window every 2 pixels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Box offsets (N, 4, h, w) and face probability (N, h, w) per window."""
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)[:, 1]


class RNet(nn.Module):
    """Refinement network on 24x24 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # The weights come from a TensorFlow port: flatten in its (W, H, C) order.
        x = x.permute(0, 3, 2, 1).flatten(1)
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)[:, 1]


class ONet(nn.Module):
    """Output network on 48x48 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Box offsets, face probability and five points (x0..x4, y0..y4 in box units)."""
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).flatten(1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), torch.softmax(self.dense6_1(x), dim=1)[:, 1], self.dense6_3(x)


def load_net(net: nn.Module, name: str) -> nn.Module:
    """Load the facenet-pytorch state dict ``name`` (pnet, rnet, onet) into ``net``."""
    net.load_state_dict(torch.load(mtcnn_weights(name), map_location="cpu", weights_only=True))
    return net.eval()


def nms(boxes: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of ``boxes`` (rows x1, y1, x2, y2, score) kept by greedy IoU suppression."""
    if not len(boxes):
        return np.zeros(0, np.int64)
    corners = boxes[:, :4].astype(np.float64)
    rects = np.hstack([corners[:, :2], corners[:, 2:] - corners[:, :2]])
    keep = cv2.dnn.NMSBoxes(rects.tolist(), boxes[:, 4].tolist(), 0.0, threshold)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def nms_min(boxes: np.ndarray, threshold: float) -> np.ndarray:
    """Like ``nms`` but the overlap is divided by the smaller box: this removes a small box
    lying inside a bigger one, which IoU keeps. Used on the few final boxes only."""
    x1, y1, x2, y2, score = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = score.argsort()[::-1]
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        width = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        height = np.maximum(
            0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1
        )
        overlap = width * height / np.minimum(areas[best], areas[rest])
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (the next net expects square crops)."""
    boxes = boxes.copy()
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(width, height)
    boxes[:, 0] += width * 0.5 - side * 0.5
    boxes[:, 1] += height * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Move box corners by the net's offsets, given in units of the box size."""
    boxes = boxes.copy()
    width = boxes[:, 2] - boxes[:, 0] + 1
    height = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, 0] += offsets[:, 0] * width
    boxes[:, 1] += offsets[:, 1] * height
    boxes[:, 2] += offsets[:, 2] * width
    boxes[:, 3] += offsets[:, 3] * height
    return boxes


def pyramid_scales(height: int, width: int, min_face_px: int) -> list[float]:
    """Scales at which a 12 px PNet window covers faces from ``min_face_px`` up to the frame."""
    scale = 12.0 / min_face_px
    scales = []
    while min(height, width) * scale >= 12:
        scales.append(scale)
        scale *= PYRAMID_FACTOR
    return scales


class Mtcnn:
    """The three-stage cascade over batches of RGB frames."""

    def __init__(self, device: torch.device, min_face_px: int, min_score: float) -> None:
        self.device = device
        self.dtype = model_dtype(device)
        self.min_face_px = min_face_px
        self.min_score = min_score
        # channels_last halves the time of these narrow convolutions on CPU (oneDNN).
        nets = [
            load_net(net(), name) for net, name in ((PNet, "pnet"), (RNet, "rnet"), (ONet, "onet"))
        ]
        self.pnet, self.rnet, self.onet = (
            net.to(device, self.dtype, memory_format=torch.channels_last) for net in nets
        )

    def _run(self, net: nn.Module, images: np.ndarray, cpu_chunk: int) -> list[np.ndarray]:
        """Run ``net`` on uint8 images (N, H, W, 3); its outputs as float32 arrays."""
        # (N, H, W, 3) permuted to (N, 3, H, W) is already channels_last in memory.
        batch = to_device(images, self.device, torch.uint8).permute(0, 3, 1, 2)
        batch = (batch.to(self.dtype) - 127.5) * 0.0078125
        with torch.inference_mode():
            outputs = forward_in_chunks(net, batch, cpu_chunk)
        return [output.float().cpu().numpy() for output in outputs]

    def detect(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Faces of each RGB uint8 frame, in pixels: rows x1, y1, x2, y2, probability, then
        five points x0..x4, y0..y4 (eyes, nose tip, mouth corners; image left first)."""
        candidates = self._propose(frames)
        candidates = self._refine(frames, candidates, self.rnet, 24, STAGE_THRESHOLDS[1])
        candidates = self._refine(frames, candidates, self.onet, 48, STAGE_THRESHOLDS[2])
        return [
            self._second_look(frame, boxes) for frame, boxes in zip(frames, candidates, strict=True)
        ]

    def _second_look(self, frame: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """ONet's faces of one frame at ``min_score`` or above, merged. A face ONet doubted
        (a score under ``min_score``) gets a second reading on the box ONet itself moved it
        to: a candidate off by a fifth of the face scores low on the first look and high on
        the second (large faces, where PNet's windows are coarsest, lost up to 2 in 200)."""
        doubted = faces[:, 4] < self.min_score
        if doubted.any():
            faces = faces.copy()
            faces[doubted] = self.reread(frame, faces[doubted, :4])
        faces = faces[faces[:, 4] >= self.min_score]
        return faces[nms_min(faces, 0.7)] if len(faces) else faces

    def _propose(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """PNet over the pyramid; candidate boxes (rows x1, y1, x2, y2, score) per frame."""
        per_frame: list[list[np.ndarray]] = [[] for _ in frames]
        by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for index, frame in enumerate(frames):
            by_shape[frame.shape].append(index)
        for (height, width, _), indices in by_shape.items():
            level = [frames[i] for i in indices]
            for scale in pyramid_scales(height, width, self.min_face_px):
                size = (int(width * scale + 1), int(height * scale + 1))
                level = [cv2.resize(image, size, interpolation=cv2.INTER_AREA) for image in level]
                chunk = max(1, PNET_CHUNK_PIXELS // (size[0] * size[1]))
                offsets, probs = self._run(self.pnet, np.stack(level), cpu_chunk=chunk)
                for row, frame_index in enumerate(indices):
                    boxes = windows_to_boxes(offsets[row], probs[row], scale)
                    per_frame[frame_index].append(boxes[nms(boxes, 0.5)])
        candidates = []
        for boxes in per_frame:
            boxes = np.concatenate(boxes) if boxes else np.zeros((0, 9), np.float32)
            boxes = boxes[nms(boxes, MERGE_OVERLAP)]
            # Offsets of PNet are relative to the box size without the +1 pixel.
            width = (boxes[:, 2] - boxes[:, 0])[:, None]
            height = (boxes[:, 3] - boxes[:, 1])[:, None]
            corners = boxes[:, :4] + boxes[:, 5:9] * np.hstack([width, height, width, height])
            candidates.append(square(np.hstack([corners, boxes[:, 4:5]])))
        return candidates

    def _refine(
        self,
        frames: list[np.ndarray],
        candidates: list[np.ndarray],
        net: nn.Module,
        size: int,
        threshold: float,
    ) -> list[np.ndarray]:
        """Re-score every candidate of every frame with ``net`` in one batch."""
        crops = [
            crop_resized(frame, box, size)
            for frame, boxes in zip(frames, candidates, strict=True)
            for box in boxes
        ]
        if not crops:
            return [np.zeros((0, 15 if net is self.onet else 5), np.float32) for _ in candidates]
        cpu_chunk = 64 if net is self.onet else 128
        offsets, probs, *points = self._run(net, np.stack(crops), cpu_chunk)
        final = net is self.onet
        refined = []
        start = 0
        for boxes in candidates:
            rows = slice(start, start + len(boxes))
            start += len(boxes)
            keep = probs[rows] > threshold
            boxes = np.hstack([boxes[keep, :4], probs[rows][keep, None]])
            moved = offsets[rows][keep]
            if final:
                boxes = onet_faces(boxes, moved, points[0][rows][keep])
            else:
                kept = nms(boxes, MERGE_OVERLAP)
                boxes = square(regress(boxes[kept], moved[kept]))
            refined.append(boxes)
        return refined

    def reread(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """ONet alone on faces already known (from tracking) in an RGB frame: one row per
        box of (x1, y1, x2, y2), in order, laid out like ``detect``'s; no threshold and no
        merging, the caller decides from the probability what to keep."""
        if not len(boxes):
            return np.zeros((0, 15), np.float32)
        squared = square(boxes.astype(np.float32))
        crops = np.stack([crop_resized(frame, box, 48) for box in squared])
        offsets, probs, points = self._run(self.onet, crops, cpu_chunk=64)
        return onet_faces(np.hstack([squared[:, :4], probs[:, None]]), offsets, points)


def onet_faces(boxes: np.ndarray, offsets: np.ndarray, points: np.ndarray) -> np.ndarray:
    """ONet's reading of the boxes it saw (rows x1, y1, x2, y2, probability): regressed
    boxes with the five points (x0..x4, y0..y4) appended."""
    # Points are relative to the box ONet saw, before its own regression.
    width = boxes[:, 2:3] - boxes[:, 0:1] + 1
    height = boxes[:, 3:4] - boxes[:, 1:2] + 1
    xs = boxes[:, 0:1] + width * points[:, :5] - 1
    ys = boxes[:, 1:2] + height * points[:, 5:] - 1
    return np.hstack([regress(boxes, offsets), xs, ys])


def windows_to_boxes(offsets: np.ndarray, probs: np.ndarray, scale: float) -> np.ndarray:
    """PNet windows above the first threshold as boxes in frame pixels.

    Rows are x1, y1, x2, y2, score, then the four offsets for the later regression.
    """
    ys, xs = np.nonzero(probs >= STAGE_THRESHOLDS[0])
    origin = np.stack([xs, ys], axis=1).astype(np.float32)
    top_left = np.floor((2 * origin + 1) / scale)
    bottom_right = np.floor((2 * origin + 12) / scale)
    return np.hstack([top_left, bottom_right, probs[ys, xs][:, None], offsets[:, ys, xs].T]).astype(
        np.float32
    )


def crop_resized(frame: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """``box`` cut from the frame, black where it lies outside, resized to ``size`` x
    ``size``: a face cut by the frame's edge keeps its shape (stretching the part inside
    to the square would make it a face no net was trained on)."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = int(box[0]), int(box[1]), int(box[2]) + 1, int(box[3]) + 1
    inside = frame[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
    if inside.size == 0:
        return np.zeros((size, size, 3), np.uint8)
    if (x1, y1, x2, y2) != (max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)):
        inside = cv2.copyMakeBorder(
            inside,
            max(-y1, 0),
            max(y2 - height, 0),
            max(-x1, 0),
            max(x2 - width, 0),
            cv2.BORDER_CONSTANT,
            value=(0, 0, 0),
        )
    return cv2.resize(inside, (size, size), interpolation=cv2.INTER_LINEAR)
