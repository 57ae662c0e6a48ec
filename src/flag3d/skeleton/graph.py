"""Skeleton graphs built from a layout's tree.

Three constructions, each returning a stack of ``(V, V)`` float32 matrices ``A[k]`` to be
applied to node features ``x`` of shape ``(..., V)`` as ``x @ A[k]`` (column ``w`` of
``A[k]`` says how node ``w`` gathers from every node ``v``):

* ``spatial`` — identity, normalised inward (child -> parent) and normalised outward
  (parent -> child) adjacency: 3 subsets, the PYSKL/2s-AGCN/CTR-GCN default.
* ``stgcn_spatial`` — the ST-GCN distance partition: for every hop distance up to
  ``max_hop``, neighbours split into *root* (same distance to the centre joint), *closer*
  and *further*; 3 subsets for ``max_hop=1``.
* ``k_hop`` — multi-scale graphs (MS-G3D): scale ``d`` links joints exactly ``d`` hops
  apart, with self-loops, symmetrically normalised; scale 0 is the identity.

"Normalised" for ``spatial`` and ``stgcn_spatial`` means ``A @ D^-1`` with ``D`` the column
degrees (every column sums to 1 where it has neighbours).

Example:
    >>> from flag3d.skeleton.graph import build_graph
    >>> A = build_graph("ntu25", "spatial")
    >>> A.shape, float(A[1].sum(0).max())
    ((3, 25, 25), 1.0)
"""

from __future__ import annotations

from typing import Union

import numpy as np

from flag3d.errors import LayoutError
from flag3d.skeleton.layouts import Layout, get_layout

GRAPH_MODES = ("spatial", "stgcn_spatial", "k_hop", "adjacency")


def adjacency(layout: Union[str, Layout]) -> np.ndarray:
    """Symmetric 0/1 adjacency of the tree (no self-loops), shape (V, V)."""
    lay = get_layout(layout)
    a = np.zeros((lay.num_joints, lay.num_joints), dtype=np.float32)
    for c, p in lay.edges:
        a[c, p] = a[p, c] = 1.0
    return a


def hop_distance(layout: Union[str, Layout]) -> np.ndarray:
    """Number of edges between every pair of joints (tree distance), shape (V, V), int."""
    lay = get_layout(layout)
    v = lay.num_joints
    a = adjacency(lay) > 0
    dist = np.full((v, v), -1, dtype=np.int64)
    np.fill_diagonal(dist, 0)
    reach = np.eye(v, dtype=bool)
    frontier = np.eye(v, dtype=bool)
    d = 0
    while not reach.all():
        d += 1
        frontier = (frontier.astype(np.int64) @ a.astype(np.int64) > 0) & ~reach
        if not frontier.any():
            raise LayoutError(f"layout {lay.name}: graph is not connected")
        dist[frontier] = d
        reach |= frontier
    return dist


def normalize_columns(a: np.ndarray) -> np.ndarray:
    """``A @ D^-1`` with D the column sums; zero columns stay zero."""
    deg = a.sum(axis=0)
    inv = np.where(deg > 0, 1.0 / np.where(deg > 0, deg, 1.0), 0.0)
    return (a * inv[None, :]).astype(np.float32)


def normalize_symmetric(a: np.ndarray) -> np.ndarray:
    """``D^-1/2 A D^-1/2`` with D the row sums."""
    deg = a.sum(axis=1)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    return (inv[:, None] * a * inv[None, :]).astype(np.float32)


def spatial(layout: Union[str, Layout]) -> np.ndarray:
    """Identity, normalised inward and normalised outward adjacency, shape (3, V, V).

    Following PYSKL, every link is oriented towards the layout's centre joint (for
    ``ntu25`` the spine-shoulder, not the tree root), and a link from joint ``i`` to its
    centre-side neighbour ``j`` sets ``inward[j, i] = 1``; ``outward`` is the transpose.
    Both are column-normalised.
    """
    lay = get_layout(layout)
    v = lay.num_joints
    hop = hop_distance(lay)
    inward = np.zeros((v, v), dtype=np.float32)
    for a, b in lay.edges:
        far, near = (a, b) if hop[a, lay.center] > hop[b, lay.center] else (b, a)
        inward[near, far] = 1.0
    outward = inward.T.copy()
    return np.stack([np.eye(v, dtype=np.float32), normalize_columns(inward),
                     normalize_columns(outward)])


def stgcn_spatial(layout: Union[str, Layout], max_hop: int = 1) -> np.ndarray:
    """ST-GCN distance partition around the layout's centre joint.

    Returns ``1 + 2 * max_hop`` subsets: the hop-0 root subset, then for each hop ``d`` the
    sum of its root and closer parts, and its further part.
    """
    lay = get_layout(layout)
    hop = hop_distance(lay)
    within = (hop <= max_hop).astype(np.float32)
    norm = normalize_columns(within)
    to_centre = hop[:, lay.center]
    # Pair (row j, column i): compare the centre distance of j and i.
    dj = to_centre[:, None]
    di = to_centre[None, :]
    subsets = []
    for d in range(max_hop + 1):
        at = hop == d
        root = np.where(at & (dj == di), norm, 0.0)
        close = np.where(at & (dj > di), norm, 0.0)
        further = np.where(at & (dj < di), norm, 0.0)
        if d == 0:
            subsets.append(root)
        else:
            subsets.append(root + close)
            subsets.append(further)
    return np.stack(subsets).astype(np.float32)


def k_hop(layout: Union[str, Layout], k: int = 3) -> np.ndarray:
    """Multi-scale adjacency: scale 0 = I, scale d = norm(I + [hop == d]), shape (k+1, V, V)."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    lay = get_layout(layout)
    hop = hop_distance(lay)
    eye = np.eye(lay.num_joints, dtype=np.float32)
    scales = [eye]
    for d in range(1, k + 1):
        scales.append(normalize_symmetric(eye + (hop == d).astype(np.float32)))
    return np.stack(scales)


def build_graph(layout: Union[str, Layout], mode: str = "spatial", **kwargs: int) -> np.ndarray:
    """Build a graph by mode name (``spatial``, ``stgcn_spatial``, ``k_hop``, ``adjacency``)."""
    if mode == "spatial":
        return spatial(layout)
    if mode == "stgcn_spatial":
        return stgcn_spatial(layout, **kwargs)
    if mode == "k_hop":
        return k_hop(layout, **kwargs)
    if mode == "adjacency":
        return adjacency(layout)[None]
    raise LayoutError(f"unknown graph mode {mode!r}; known modes: {', '.join(GRAPH_MODES)}")
