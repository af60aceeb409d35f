"""int8 inference of an expression model on CPU, from a calibration made once and shipped.

Static post-training quantization with torch's FX graph mode on the oneDNN backend:
convolutions (fused with their batch norm and ReLU), pools and the classifier run in
8-bit integers, with per-channel weight scales and activation ranges measured on
FER2013 *Training* faces (``calibrate``; ``classroom model quantize`` writes the result).
The calibration file holds the quantized network's whole state (int8 weights, scales and
zero points); ``load_calibrated`` rebuilds the same graph from the float network and loads
it, so no face is needed at run time.

On a CPU with VNNI instructions (``cpu_has_vnni``) int8 is about 3x the float path for
``vgg_narrow`` at the same accuracy (docs/models.md, "int8 on CPU"). Without them int8
arithmetic gains much less (not measured: the machines here have VNNI), so ``auto``
precision keeps float32 there.

``torch.ao.quantization`` marks itself deprecated in favour of torchao's PT2E flow, whose
fast int8 kernels come only through ``torch.compile`` (minutes of compiling per process
start on this machine). torch is pinned, so the FX flow stays as it is; its warnings are
silenced here and nowhere else.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

ENGINE = "onednn"
"""The quantized backend: oneDNN's VNNI kernels, ~7% faster here than torch's ``x86``."""
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
POOL_VECTOR_CHANNELS = 32
"""Channels torch's int8 max pool takes at a time: 32 bytes, one AVX2 register."""


def cpu_has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU has 8-bit dot-product instructions (VNNI): int8 pays off only then.
    False where the flags cannot be read (not Linux)."""
    try:
        flags = cpuinfo.read_text().split()
    except OSError:
        return False
    return any(flag in flags for flag in VNNI_FLAGS)


@contextmanager
def quantization_quiet() -> Iterator[None]:
    """The FX flow warns that it is deprecated, and that uncalibrated observers give
    default scales (``load_calibrated`` replaces them with the shipped ones)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", "must run observer", UserWarning)
        warnings.filterwarnings("ignore", ".*quantized tensor creation", UserWarning)
        yield


def zero_padded(tensor: torch.Tensor, dim: int, size: int, fill: float = 0.0) -> torch.Tensor:
    """``tensor`` grown to ``size`` along ``dim`` with ``fill``."""
    shape = list(tensor.shape)
    shape[dim] = size - shape[dim]
    return torch.cat([tensor, tensor.new_full(shape, fill)], dim)


def is_conv_block(module: nn.Module) -> bool:
    """A ``Sequential`` of a plain convolution and its batch norm (then the activation)."""
    return (
        isinstance(module, nn.Sequential)
        and len(module) >= 2
        and isinstance(module[0], nn.Conv2d)
        and module[0].groups == 1
        and isinstance(module[1], nn.BatchNorm2d)
    )


def widen_narrow_pooled_blocks(model: nn.Module) -> nn.Module:
    """``model`` (changed in place) with every convolution block of fewer than
    ``POOL_VECTOR_CHANNELS`` channels that a max pool follows widened to that many by
    channels that are always zero, and the next block's convolution given zero weights for
    them: the same outputs.

    torch's int8 max pool (channels last) takes 32 channels at a time and the rest one by
    one, so a 24-channel layer runs entirely one by one: vgg_narrow's first pool took a
    quarter of the network's int8 time. Widened, the whole network is about 1.25x faster
    (docs/models.md, "int8 on CPU")."""
    for sequence in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for index in range(len(sequence) - 2):
            block, pool, after = sequence[index], sequence[index + 1], sequence[index + 2]
            narrow = is_conv_block(block) and block[0].out_channels < POOL_VECTOR_CHANNELS
            if narrow and isinstance(pool, nn.MaxPool2d) and is_conv_block(after):
                widen_output(block, POOL_VECTOR_CHANNELS)
                conv = after[0]
                conv.weight = nn.Parameter(zero_padded(conv.weight.data, 1, POOL_VECTOR_CHANNELS))
                conv.in_channels = POOL_VECTOR_CHANNELS
    return model


def widen_output(block: nn.Sequential, channels: int) -> None:
    """``block``'s convolution and batch norm grown to ``channels`` outputs that are zero:
    zero weights, and a norm of zero scale and shift."""
    conv, norm = block[0], block[1]
    conv.weight = nn.Parameter(zero_padded(conv.weight.data, 0, channels))
    if conv.bias is not None:
        conv.bias = nn.Parameter(zero_padded(conv.bias.data, 0, channels))
    conv.out_channels = norm.num_features = channels
    norm.weight = nn.Parameter(zero_padded(norm.weight.data, 0, channels))
    norm.bias = nn.Parameter(zero_padded(norm.bias.data, 0, channels))
    norm.running_mean = zero_padded(norm.running_mean, 0, channels)
    norm.running_var = zero_padded(norm.running_var, 0, channels, fill=1.0)


def prepared(model: nn.Module, side: int) -> nn.Module:
    """``model`` (float, eval mode; changed in place) with its narrow pooled blocks widened
    (``widen_narrow_pooled_blocks``) and traced by FX with observers on every quantized
    value."""
    torch.backends.quantized.engine = ENGINE  # process-wide: the packed weights follow it
    model = widen_narrow_pooled_blocks(model.eval())
    example = (torch.zeros(1, 1, side, side),)
    with quantization_quiet():
        return prepare_fx(model, get_default_qconfig_mapping(ENGINE), example)


def calibrate(model: nn.Module, faces: torch.Tensor, batch: int = 64) -> nn.Module:
    """``model`` (changed in place) in int8, its activation ranges observed on ``faces``
    (N, 1, S, S) in [-1, 1]."""
    observed = prepared(model, faces.shape[-1])
    with torch.inference_mode():
        for chunk in faces.split(batch):
            observed(chunk)
    with quantization_quiet():
        return convert_fx(observed)


def load_calibrated(model: nn.Module, side: int, path: Path) -> nn.Module:
    """``model`` (changed in place) in int8 with the calibration ``calibrate`` made and
    ``torch.save`` wrote as its ``state_dict`` at ``path``."""
    with quantization_quiet():
        quantized = convert_fx(prepared(model, side))
        # torch.load of quantized tensors warns that TypedStorage is deprecated.
        warnings.filterwarnings("ignore", "TypedStorage is deprecated", UserWarning)
        quantized.load_state_dict(torch.load(path, weights_only=True))
    return quantized
