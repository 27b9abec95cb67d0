"""The per-pixel variance of many upsampled, min-max normalised maps, without upsampling them.

VOICE needs Var_Q[normalise(upsample(m_Q))] at the input grid (S × S) for up to C − 1 maps
m_Q of h × w. Bilinear upsampling is linear, up(m) = R_h m R_wᵀ with interpolation matrices
R_h (S, h), R_w (S, w) (half-pixel centres, edges clamped: exactly ``F.interpolate(...,
mode="bilinear", align_corners=False)``), and its rows of weights sum to 1, so normalising
after upsampling is upsampling the map normalised by the upsampled map's min and max. Those
extremes lie at few pixels: along each axis the upsampled map is linear between the output
rows that share a source cell, so its extremes are at the first or last output row (column)
of each cell; :func:`extreme_rows` finds them and the extremes come from a (≤ 2h+2) × (≤ 2w+2)
sub-grid. The variance is then a quadratic form of the grid maps' second moments:

    E_Q[up(m̃_Q)²](p, q) = Σ_ijkl R_h[p,i] R_h[p,k] R_w[q,j] R_w[q,l] E_Q[m̃_Q,ij m̃_Q,kl],

an (hw × hw) moment matrix per sample instead of C − 1 maps of S × S: exact, in float64.
"""

from __future__ import annotations

import torch


def bilinear_matrix(out_size: int, in_size: int, dtype: torch.dtype = torch.float64,
                    device: torch.device | str = "cpu") -> torch.Tensor:
    """(out_size, in_size) weights R with up(v) = R v for bilinear, align_corners=False resizing."""
    source = ((torch.arange(out_size, dtype=torch.float64) + 0.5) * (in_size / out_size) - 0.5).clamp_min(0)
    low = source.floor().long().clamp_max(in_size - 1)
    high = (low + 1).clamp_max(in_size - 1)
    fraction = source - low
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64)
    rows = torch.arange(out_size)
    matrix.index_put_((rows, low), 1 - fraction, accumulate=True)
    matrix.index_put_((rows, high), fraction, accumulate=True)
    return matrix.to(dtype=dtype, device=device)


def extreme_rows(out_size: int, in_size: int) -> torch.Tensor:
    """The output rows where an upsampled map can take its extremes along that axis: the first
    and last row of each run of rows that interpolate between the same two source rows."""
    source = ((torch.arange(out_size, dtype=torch.float64) + 0.5) * (in_size / out_size) - 0.5).clamp_min(0)
    cell = source.floor().long().clamp_max(in_size - 1)
    first = torch.ones(out_size, dtype=torch.bool)
    first[1:] = cell[1:] != cell[:-1]
    last = torch.ones(out_size, dtype=torch.bool)
    last[:-1] = cell[:-1] != cell[1:]
    return (first | last).nonzero()[:, 0]


def normalised_upsampled_variance(maps: torch.Tensor, used: torch.Tensor, size: tuple[int, int],
                                  eps: float = 1e-12) -> torch.Tensor:
    """Var over n of min-max-normalised bilinear upsamplings of (N, B, h, w) maps, counting map n
    of sample b where ``used`` (N, B) is True: (B, S_h, S_w) float64 (population variance; a
    map with max − min ≤ eps normalises to zeros, as :func:`core.gradients.cam.minmax_normalise`)."""
    count, batch, height, width = maps.shape
    maps = maps.double()
    rows_h = bilinear_matrix(size[0], height, device=maps.device)
    rows_w = bilinear_matrix(size[1], width, device=maps.device)
    corners_h, corners_w = extreme_rows(size[0], height), extreme_rows(size[1], width)
    sub = torch.einsum("pi,nbij,qj->nbpq", rows_h[corners_h], maps, rows_w[corners_w]).flatten(-2)
    low, high = sub.min(dim=-1).values, sub.max(dim=-1).values
    span = high - low
    normalised = torch.where((span > eps)[..., None, None], (maps - low[..., None, None]) /
                             span.clamp_min(eps)[..., None, None], torch.zeros_like(maps))
    weight = used.to(maps)
    total = weight.sum(dim=0).clamp_min(1)  # (B,)
    flat = normalised.flatten(-2) * weight[..., None].sqrt()  # (N, B, hw); weights are 0 or 1
    mean = (flat.sum(dim=0) / total[:, None]).reshape(batch, height, width)
    moments = torch.einsum("nbi,nbk->bik", flat, flat) / total[:, None, None]  # (B, hw, hw)
    moments = moments.reshape(batch, height, width, height, width)
    rows_pair = torch.einsum("pi,pk,bijkl->bpjl", rows_h, rows_h, moments)  # (B, S_h, w, w)
    second = torch.einsum("qj,ql,bpjl->bpq", rows_w, rows_w, rows_pair)
    first = torch.einsum("pi,bij,qj->bpq", rows_h, mean, rows_w)
    return (second - first.pow(2)).clamp_min(0)
