"""PoseC3D (Duan et al., CVPR 2022): pseudo-heatmap volumes into a SlowOnly-style 3D CNN.

Keypoints ``(N, M, T, V, C)`` become ``(N, V, 48, 56, 56)`` Gaussian volumes
(:class:`~flag3d.models.heatmaps.PseudoHeatmaps`), then PYSKL's ``slowonly_r50`` PoseC3D
backbone: a ``(1, 7, 7)`` stem with 32 channels and a 3x3 max-pool (both stride 1), then
three stages of ResNet-50 bottlenecks (4, 6, 3 blocks; 128, 256, 512 output channels;
spatial stride 2 in every stage, temporal stride 2 in the last; the bottleneck's first
convolution is ``(3, 1, 1)`` in stages 2 and 3).

Speed: every 3D convolution here is separable in form — ``(1, k, k)``, ``(3, 1, 1)`` or
``1x1x1`` — so each runs as a 2D channels-last convolution on a free view of the
channels-last-3d tensor (frames folded into the batch, or height and width folded into one
axis); BatchNorm folds into the weights in eval mode.

Example:
    >>> import torch
    >>> from flag3d.models.posec3d import PoseC3D
    >>> net = PoseC3D("coco17", in_channels=2, frames=8, size=32).eval()
    >>> tuple(net(torch.rand(2, 1, 12, 17, 2)).shape)
    (2, 1, 512, 4, 4, 4)
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from flag3d.models.heatmaps import PseudoHeatmaps
from flag3d.models.layers import bn_scale_shift
from flag3d.skeleton.layouts import get_layout


class Conv3dBN(nn.Module):
    """A bias-free 3D convolution + BN (+ ReLU) run as a 2D convolution.

    Kernels ``(1, kh, kw)`` (spatial), ``(kt, 1, 1)`` (temporal) and ``(1, 1, 1)`` are
    supported; strides are ``(st, ss, ss)``.  Input and output are ``(N, C, T, H, W)`` in
    channels-last-3d memory order.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: Tuple[int, int, int],
                 stride: Tuple[int, int, int] = (1, 1, 1), act: bool = True,
                 bn_init: float = 1.0) -> None:
        super().__init__()
        kt, kh, kw = kernel
        if kt > 1 and (kh > 1 or kw > 1):
            raise ValueError(f"kernel {kernel} is not separable in time and space")
        self.kernel, self.stride, self.act = kernel, stride, act
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
        self.bn = nn.BatchNorm3d(out_channels)
        nn.init.constant_(self.bn.weight, bn_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        kt, kh, kw = self.kernel
        st, ss, _ = self.stride
        weight, bias = self.weight, None
        if not self.training:
            scale, shift = bn_scale_shift(self.bn)
            weight, bias = weight * scale.view(-1, 1, 1, 1, 1), shift
        xl = x.permute(0, 2, 3, 4, 1)  # (N, T, H, W, C), contiguous
        if kt == 1:  # spatial or pointwise: frames into the batch
            if st > 1:
                xl = xl[:, ::st]
                t = xl.shape[1]
            x2 = xl.reshape(n * t, h, w, c).permute(0, 3, 1, 2)
            y = F.conv2d(x2, weight[:, :, 0], bias, stride=ss, padding=(kh // 2, kw // 2))
            out_hw = y.shape[-2:]
            y = y.permute(0, 2, 3, 1).reshape(n, t, *out_hw, -1)
        else:  # temporal: height and width into one axis
            if ss > 1:
                xl = xl[:, :, ::ss, ::ss]
                h, w = xl.shape[2], xl.shape[3]
            x2 = xl.reshape(n, t, h * w, c).permute(0, 3, 1, 2)
            y = F.conv2d(x2, weight[..., 0], bias, stride=(st, 1), padding=(kt // 2, 0))
            y = y.permute(0, 2, 3, 1).reshape(n, y.shape[2], h, w, -1)
        if self.training:
            y = self.bn(y.permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1)
        if self.act:  # y is this module's own fresh tensor: rectify in place
            y = torch.relu_(y)
        return y.permute(0, 4, 1, 2, 3)


class Bottleneck3d(nn.Module):
    """ResNet bottleneck: ``(kt,1,1)`` -> ``(1,3,3)`` (strided) -> ``1x1x1`` (x4), + shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, spatial_stride: int = 1,
                 temporal_stride: int = 1, inflate: bool = False) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = Conv3dBN(in_channels, planes, (3 if inflate else 1, 1, 1))
        self.conv2 = Conv3dBN(planes, planes, (1, 3, 3),
                              stride=(temporal_stride, spatial_stride, spatial_stride))
        # PYSKL zero-initialises the last BN of every residual branch.
        self.conv3 = Conv3dBN(planes, out, (1, 1, 1), act=False, bn_init=0.0)
        self.shortcut: Optional[nn.Module] = None
        if spatial_stride != 1 or temporal_stride != 1 or in_channels != out:
            self.shortcut = Conv3dBN(in_channels, out, (1, 1, 1), act=False,
                                     stride=(temporal_stride, spatial_stride, spatial_stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv3(self.conv2(self.conv1(x)))
        res = x if self.shortcut is None else self.shortcut(x)
        return torch.relu_(y.add_(res))  # y is conv3's fresh output


class PoseC3D(nn.Module):
    """PoseC3D: keypoints ``(N, M, T, V, C)`` -> features ``(N, 1, 512, T'/2, H/8, W/8)``.

    Args:
        layout: joint layout (its joint count is the number of heatmap channels).
        in_channels: channels per keypoint (2 or 3: x, y (, z or score)).
        num_persons: accepted for the common interface (persons are merged into one volume).
        frames, size, sigma, score: the heatmap rendering (see :class:`PseudoHeatmaps`).
        base_channels, stage_blocks, inflate, spatial_strides, temporal_strides: the
            SlowOnly layout (PYSKL's PoseC3D defaults).
    """

    def __init__(self, layout: str, in_channels: int = 3, num_persons: int = 1,
                 frames: int = 48, size: int = 56, sigma: float = 0.6, score: bool = False,
                 base_channels: int = 32, stage_blocks: Sequence[int] = (4, 6, 3),
                 inflate: Sequence[bool] = (False, True, True),
                 spatial_strides: Sequence[int] = (2, 2, 2),
                 temporal_strides: Sequence[int] = (1, 1, 2)) -> None:
        super().__init__()
        v = get_layout(layout).num_joints
        self.layout, self.num_joints = layout, v
        self.heatmaps = PseudoHeatmaps(size=size, frames=frames, sigma=sigma, score=score)
        self.stem = Conv3dBN(v, base_channels, (1, 7, 7))
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        layers = []
        c_in = base_channels
        for i, blocks in enumerate(stage_blocks):
            planes = base_channels * 2 ** i
            for j in range(blocks):
                first = j == 0
                layers.append(Bottleneck3d(
                    c_in, planes, spatial_stride=spatial_strides[i] if first else 1,
                    temporal_stride=temporal_strides[i] if first else 1, inflate=inflate[i],
                ))
                c_in = planes * Bottleneck3d.expansion
        self.layers = nn.Sequential(*layers)
        self.out_channels = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        vol = self.heatmaps(x)
        if torch.is_autocast_enabled("cpu"):
            vol = vol.to(torch.get_autocast_dtype("cpu"))
        y = self.stem(vol)
        n, c, t, h, w = y.shape
        yl = y.permute(0, 2, 3, 4, 1).reshape(n * t, h, w, c).permute(0, 3, 1, 2)
        y = self.pool(yl).permute(0, 2, 3, 1).reshape(n, t, h, w, c).permute(0, 4, 1, 2, 3)
        y = self.layers(y)
        return y.unsqueeze(1)
