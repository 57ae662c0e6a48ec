"""Keypoints -> pseudo-heatmap volumes (PoseC3D's input), computed in torch on the fly.

:class:`PseudoHeatmaps` turns keypoints ``(N, M, T, V, C)`` into a volume ``(N, V, T', H, W)``:
one Gaussian per joint and frame (``exp(-d^2 / (2 sigma^2))``, scaled by the keypoint score
when there is one), the maximum over persons, on an ``H x W`` grid that covers the
sample's bounding box of all joints over all frames (expanded by ``margin`` and made square,
like PYSKL's ``PoseCompact``).  ``T'`` frames are picked uniformly (the middle of T'
equal segments; PYSKL's test-time ``UniformSampleFrames``).

The Gaussian is separable, so a volume is an outer product of two ``(..., H)`` and
``(..., W)`` profiles; it is built directly in channels-last-3d order ``(N, T', H, W, V)``.

Which channels are used: the first two are the image axes (x, y).  For 3D input (x, y, z)
this is a projection onto the x-y plane; with ``score=True`` the last channel is the
keypoint confidence (2D pickles' ``keypoint_score``), and joints with score 0 are ignored
when the box is computed.

Example:
    >>> import torch
    >>> from flag3d.models.heatmaps import PseudoHeatmaps
    >>> maker = PseudoHeatmaps(size=32, frames=8)
    >>> vol = maker(torch.rand(2, 1, 20, 17, 2))
    >>> tuple(vol.shape), float(vol.max()) <= 1.0
    ((2, 17, 8, 32, 32), True)
"""

from __future__ import annotations

import torch
from torch import nn


def uniform_frame_indices(num_frames: int, clip_len: int) -> torch.Tensor:
    """Middle frame of each of ``clip_len`` equal segments of ``num_frames`` (repeats if short)."""
    pos = (torch.arange(clip_len, dtype=torch.float64) + 0.5) * num_frames / clip_len
    return pos.floor().clamp_(0, num_frames - 1).long()


class PseudoHeatmaps(nn.Module):
    """Render keypoints ``(N, M, T, V, C)`` as Gaussian heatmap volumes ``(N, V, T', H, W)``.

    Args:
        size: grid side ``H = W`` (PYSKL: 56 for training, 64 for testing).
        frames: ``T'``, frames sampled uniformly (``None``: keep all).
        sigma: Gaussian standard deviation in grid cells (PYSKL: 0.6).
        score: the last channel is a confidence in [0, 1] that scales each Gaussian.
        margin: the bounding box grows by this fraction of its side on every side.
    """

    def __init__(self, size: int = 56, frames: int | None = 48, sigma: float = 0.6,
                 score: bool = False, margin: float = 0.1) -> None:
        super().__init__()
        self.size, self.frames, self.sigma = int(size), frames, float(sigma)
        self.score, self.margin = bool(score), float(margin)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m, t, v, c = x.shape
        if self.frames is not None and t != self.frames:
            x = x.index_select(2, uniform_frame_indices(t, self.frames).to(x.device))
            t = self.frames
        x = x.float()
        xy = x[..., :2]
        if self.score:
            conf = x[..., -1].clamp(0.0, 1.0)
        else:
            conf = torch.ones_like(x[..., 0])
        valid = (conf > 0).unsqueeze(-1)  # (N, M, T, V, 1)
        big = torch.finfo(xy.dtype).max
        flat = xy.reshape(n, -1, 2)
        vflat = valid.reshape(n, -1, 1)
        lo = torch.where(vflat, flat, torch.full_like(flat, big)).amin(dim=1)  # (N, 2)
        hi = torch.where(vflat, flat, torch.full_like(flat, -big)).amax(dim=1)
        empty = ~vflat.any(dim=1).squeeze(-1)
        lo = torch.where(empty.unsqueeze(-1), torch.zeros_like(lo), lo)
        hi = torch.where(empty.unsqueeze(-1), torch.ones_like(hi), hi)
        centre = (lo + hi) / 2
        side = (hi - lo).amax(dim=-1).clamp_min(1e-6) * (1.0 + 2.0 * self.margin)  # square box
        scale = (self.size - 1) / side  # grid cells per input unit
        g = (xy - centre.view(n, 1, 1, 1, 2)) * scale.view(n, 1, 1, 1, 1) + (self.size - 1) / 2
        grid = torch.arange(self.size, dtype=g.dtype, device=g.device)
        inv = -0.5 / (self.sigma ** 2)
        # profiles (N, M, T, V, S) along x (width) and y (height)
        px = torch.exp(inv * (grid - g[..., 0:1]) ** 2) * conf.unsqueeze(-1)
        py = torch.exp(inv * (grid - g[..., 1:2]) ** 2)
        # (N, M, T, H, 1, V) * (N, M, T, 1, W, V) -> (N, M, T, H, W, V); max over persons
        vol = py.permute(0, 1, 2, 4, 3).unsqueeze(4) * px.permute(0, 1, 2, 4, 3).unsqueeze(3)
        vol = vol.amax(dim=1) if m > 1 else vol[:, 0]
        return vol.permute(0, 4, 1, 2, 3)  # (N, V, T, H, W), stored channels-last-3d
