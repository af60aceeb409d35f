"""The expression networks we train ourselves, registered by name in ``core.vision.registry``
as ``trainable`` expression architectures (as in timm).

Every network maps gray faces (N, 1, 48, 48) scaled to [-1, 1] to logits over
``EXPRESSIONS`` (7 classes) and says its input side in ``input_size``. 48x48 is FER2013's
own resolution, so training never resizes its images; any other side also works (global
average pooling before the classifier), which the live pipeline relies on when it feeds
faces of another size. Architectures: checkpoints of them are loaded by ``checkpoints``,
and the weights of one trained here ship in the repository (``vgg_narrow.fer2013``,
``SHIPPED_WEIGHTS``).

- ``resnet_cbam``: ResNet-18 layout at half width with CBAM (Woo et al. 2018, channel then
  spatial attention) after the first and the last residual stage;
- ``pyconv_gc``: pyramid convolutions (Duta et al. 2020, kernels 3/5/7/9 in parallel,
  wider kernels in more groups) with a global context attention block (Cao et al. 2019,
  GCNet) after every stage;
- ``two_branch``: a shallow branch (three plain convolutions: local texture) and a deep
  residual branch (shape), fused by per-face attention weights over the two branches.

The reference architectures above need a GPU (9-31 min per epoch on one CPU core). The
compact ones below are sized for training on a 2-core CPU within hours:

- ``vgg_slim``: VGG-style, one 3x3 convolution per resolution (48, 24, 12, 6), widths
  32-64-128-256;
- ``vgg_narrow``: VGG-style, two 3x3 convolutions per resolution below 48 (one at 48,
  where convolutions cost the most), widths 24-48-96-192;
- ``sep_xception``: mini-Xception's depthwise-separable residual blocks, widened to
  32-64-128-256.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from core.vision.registry import register_model
from core.vision.training.checkpoints import read_checkpoint
from schemas.events import EXPRESSIONS

INPUT_SIZE = 48
NUM_CLASSES = len(EXPRESSIONS)
COMPACT = ("sep_xception", "vgg_narrow", "vgg_slim")
"""The architectures sized for training on a 2-core CPU (the others need a GPU)."""


def conv_bn_relu(
    in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """ResNet's two 3x3 convolutions with a shortcut (1x1 where the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_relu(in_channels, out_channels, 3, stride),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def residual_stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> nn.Sequential:
    layers = [BasicBlock(in_channels, out_channels, stride)]
    layers += [BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ClassifierHead(nn.Sequential):
    """Global average pooling, dropout (FER2013 is small and noisy), linear."""

    def __init__(self, in_features: int, dropout: float = 0.3) -> None:
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(in_features, NUM_CLASSES),
        )


# --- ResNet + CBAM ------------------------------------------------------------------------


class ChannelAttention(nn.Module):
    """CBAM's channel gate: a shared MLP over average- and max-pooled channel vectors."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // reduction, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        average = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        maximum = self.mlp(x.amax(dim=(2, 3), keepdim=True))
        return x * torch.sigmoid(average + maximum)


class SpatialAttention(nn.Module):
    """CBAM's spatial gate: a 7x7 convolution over the channel-wise mean and max maps."""

    def __init__(self, kernel: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(maps))


class CBAM(nn.Sequential):
    def __init__(self, channels: int) -> None:
        super().__init__(ChannelAttention(channels), SpatialAttention())


class ResNetCBAM(nn.Module):
    input_size = INPUT_SIZE

    def __init__(self, widths: Sequence[int] = (32, 64, 128, 256), blocks: int = 2) -> None:
        super().__init__()
        # No stride and no max pool in the stem: a 48x48 face has no pixels to spare.
        self.stem = conv_bn_relu(1, widths[0])
        stages = []
        in_channels = widths[0]
        for index, width in enumerate(widths):
            stages.append(residual_stage(in_channels, width, blocks, 1 if index == 0 else 2))
            in_channels = width
        self.stages = nn.ModuleList(stages)
        self.first_attention = CBAM(widths[0])
        self.last_attention = CBAM(widths[-1])
        self.head = ClassifierHead(widths[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first_attention(self.stages[0](self.stem(x)))
        for stage in self.stages[1:]:
            x = stage(x)
        return self.head(self.last_attention(x))


@register_model("expression", trainable=True)
def resnet_cbam() -> nn.Module:
    return ResNetCBAM()


# --- Pyramid convolutions + global context -------------------------------------------------


class PyConv(nn.Module):
    """Parallel convolutions with growing kernels; wider kernels run in more groups so
    that each level costs about the same. Their outputs are concatenated."""

    LEVELS = ((3, 1), (5, 4), (7, 8), (9, 16))
    """(kernel, groups) per level, as in the PyConv paper."""
    SHARES = ((1,), (2, 2), (4, 4, 2), (4, 4, 4, 4))
    """For 1-4 levels, each level's output channels as a divisor of the total (paper)."""

    def __init__(self, in_channels: int, out_channels: int, levels: int, stride: int = 1) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv2d(
                in_channels,
                out_channels // divisor,
                kernel,
                stride,
                kernel // 2,
                groups=groups,
                bias=False,
            )
            for (kernel, groups), divisor in zip(self.LEVELS, self.SHARES[levels - 1], strict=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class PyConvBlock(nn.Module):
    """1x1 convolution, PyConv, 1x1 convolution, with a shortcut, as in PyConvResNet
    (without its 4x channel expansion, which would not fit the parameter budget)."""

    def __init__(self, in_channels: int, out_channels: int, levels: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_relu(in_channels, out_channels, 1),
            PyConv(out_channels, out_channels, levels, stride),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.AvgPool2d(stride) if stride != 1 else nn.Identity(),
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class GlobalContext(nn.Module):
    """GCNet's block: one attention-weighted sum over all positions (the global context),
    transformed by a bottleneck and added back at every position."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        self.attention = nn.Conv2d(channels, 1, 1)
        self.transform = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1),
            nn.LayerNorm([channels // reduction, 1, 1]),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // reduction, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        # reshape, not view: a channels-last tensor has no (n, c, h * w) view.
        weights = torch.softmax(self.attention(x).reshape(n, 1, h * w), dim=2)
        context = torch.bmm(x.reshape(n, c, h * w), weights.transpose(1, 2)).view(n, c, 1, 1)
        return x + self.transform(context)


class PyConvGC(nn.Module):
    input_size = INPUT_SIZE

    # (width, blocks, pyramid levels): fewer levels as the maps shrink, since a 9x9 kernel
    # on a 6x6 map is mostly padding.
    STAGES = ((64, 2, 4), (128, 2, 3), (256, 2, 2), (512, 1, 1))

    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn_relu(1, 32)
        stages = []
        in_channels = 32
        for width, blocks, levels in self.STAGES:
            layers: list[nn.Module] = []
            for block in range(blocks):
                stride = 2 if block == 0 else 1
                layers.append(PyConvBlock(in_channels, width, levels, stride))
                in_channels = width
            layers.append(GlobalContext(width))
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.head = ClassifierHead(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


@register_model("expression", trainable=True)
def pyconv_gc() -> nn.Module:
    return PyConvGC()


# --- Two-branch fusion -------------------------------------------------------------------


class BranchAttentionFusion(nn.Module):
    """Per face, softmax weights over the branches' feature vectors, from their concat."""

    def __init__(self, features: int, branches: int = 2) -> None:
        super().__init__()
        self.score = nn.Sequential(
            nn.Linear(features * branches, features // 4),
            nn.ReLU(inplace=True),
            nn.Linear(features // 4, branches),
        )

    def forward(self, vectors: list[torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack(vectors, dim=1)  # (N, branches, features)
        weights = torch.softmax(self.score(stacked.flatten(1)), dim=1)
        return (stacked * weights.unsqueeze(2)).sum(dim=1)


class TwoBranchFusion(nn.Module):
    input_size = INPUT_SIZE

    def __init__(self, features: int = 256) -> None:
        super().__init__()
        self.shallow = nn.Sequential(
            conv_bn_relu(1, 32, 5, 2),  # 24x24
            conv_bn_relu(32, 64, 3, 2),  # 12x12
            conv_bn_relu(64, features, 3, 2),  # 6x6
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.deep = nn.Sequential(
            conv_bn_relu(1, 32),
            residual_stage(32, 64, 2, 2),  # 24x24
            residual_stage(64, 128, 2, 2),  # 12x12
            residual_stage(128, features, 2, 2),  # 6x6
            CBAM(features),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.fusion = BranchAttentionFusion(features)
        self.classifier = nn.Sequential(nn.Dropout(0.3), nn.Linear(features, NUM_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.fusion([self.shallow(x), self.deep(x)]))


@register_model("expression", trainable=True)
def two_branch() -> nn.Module:
    return TwoBranchFusion()


# --- Compact networks for CPU training --------------------------------------------------


class CompactVGG(nn.Module):
    """Plain 3x3 convolutions with batch norm, a 2x2 max pool between resolutions
    (48 -> 24 -> 12 -> 6), global average pooling and dropout."""

    input_size = INPUT_SIZE

    def __init__(self, widths: Sequence[int], convs: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 1
        for index, (width, count) in enumerate(zip(widths, convs, strict=True)):
            if index > 0:
                layers.append(nn.MaxPool2d(2))
            for _ in range(count):
                layers.append(conv_bn_relu(in_channels, width))
                in_channels = width
        self.features = nn.Sequential(*layers)
        self.head = ClassifierHead(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@register_model("expression", trainable=True)
def vgg_slim() -> nn.Module:
    return CompactVGG(widths=(32, 64, 128, 256), convs=(1, 1, 1, 1))


SHIPPED_WEIGHTS = Path(__file__).resolve().parents[1] / "checkpoints" / "expression"
VGG_NARROW_WEIGHTS: dict[str, Path] = {"fer2013": SHIPPED_WEIGHTS / "vgg_narrow" / "best.pt"}
"""Tag -> the checkpoint of those weights; ``fer2013``: trained here on FER2013 Training,
model card beside it."""
INT8_CALIBRATIONS: dict[str, Path] = {
    "vgg_narrow.fer2013": SHIPPED_WEIGHTS / "vgg_narrow" / "int8.pt",
}
"""Expression model (``arch.tag``) -> its int8 calibration (``classroom model quantize``,
``core.vision.quantize``), for the models that ship one."""


@register_model("expression", tags=tuple(VGG_NARROW_WEIGHTS), trainable=True)
def vgg_narrow(tag: str | None = None) -> nn.Module:
    """Untrained without a ``tag`` (for ``classroom model train``); with one, the weights
    trained here that ship in the repository, in eval mode."""
    network = CompactVGG(widths=(24, 48, 96, 192), convs=(1, 2, 2, 2))
    if tag is None:
        return network
    network.load_state_dict(read_checkpoint(VGG_NARROW_WEIGHTS[tag])["model"])
    return network.eval()


def separable_conv_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1 (Xception's separable convolution), batch norm."""
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 3, 1, 1, groups=in_channels, bias=False),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class SeparableBlock(nn.Module):
    """mini-Xception's block: two separable convolutions and a 3x3/2 max pool, beside a
    strided 1x1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            separable_conv_bn(in_channels, out_channels),
            nn.ReLU(inplace=True),
            separable_conv_bn(out_channels, out_channels),
            nn.MaxPool2d(3, 2, 1),
        )
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, 2, bias=False), nn.BatchNorm2d(out_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class SeparableXception(nn.Module):
    input_size = INPUT_SIZE

    def __init__(self, widths: Sequence[int] = (32, 64, 128, 256)) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(1, 16), conv_bn_relu(16, widths[0]))
        blocks = []
        in_channels = widths[0]
        for width in widths:
            blocks.append(SeparableBlock(in_channels, width))
            in_channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = ClassifierHead(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


@register_model("expression", trainable=True)
def sep_xception() -> nn.Module:
    return SeparableXception()
