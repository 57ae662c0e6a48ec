"""Graph builders: shapes, normalisation, partitions, PYSKL equivalence."""

import numpy as np
import pytest

from flag3d.errors import LayoutError
from flag3d.skeleton.graph import adjacency, build_graph, hop_distance, k_hop, spatial, stgcn_spatial

# PYSKL's 1-based inward links for NTU RGB+D (a fact of the reference implementation).
NTU_INWARD_1B = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
                 (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
                 (18, 17), (19, 18), (20, 19), (22, 23), (23, 8), (24, 25), (25, 12)]


def _col_norm(a):
    d = a.sum(0)
    return a / np.where(d > 0, d, 1)


def test_spatial_equals_reference_for_ntu25():
    a = np.zeros((25, 25))
    for i, j in NTU_INWARD_1B:
        a[j - 1, i - 1] = 1
    g = spatial("ntu25")
    assert g.shape == (3, 25, 25) and g.dtype == np.float32
    np.testing.assert_allclose(g[0], np.eye(25))
    np.testing.assert_allclose(g[1], _col_norm(a))
    np.testing.assert_allclose(g[2], _col_norm(a.T))


def test_hop_distance_on_coco():
    h = hop_distance("coco17")
    # left_wrist (9) -> right_wrist (10): wrist-elbow-shoulder-nose-shoulder-elbow-wrist
    assert h[9, 10] == 6
    assert (h == h.T).all() and (np.diag(h) == 0).all()


def test_stgcn_partition_columns_sum_to_one_and_split_by_centre_distance():
    g = stgcn_spatial("ntu25", max_hop=1)
    assert g.shape == (3, 25, 25)
    total = g.sum(0)
    np.testing.assert_allclose(total.sum(0), np.ones(25), atol=1e-6)
    # Column = receiving joint (x @ A), as in ST-GCN/PYSKL: the centre (spine_shoulder, 20)
    # receives from the farther neck (row 2) through subset 1 (root + close) ...
    assert g[1][2, 20] > 0 and g[2][2, 20] == 0
    # ... and the neck (column 2) receives from the nearer centre through subset 2 (further).
    assert g[2][20, 2] > 0 and g[1][20, 2] == 0


def test_k_hop_scales():
    g = k_hop("flag3d24", k=2)
    assert g.shape == (3, 24, 24)
    np.testing.assert_allclose(g[0], np.eye(24))
    hop = hop_distance("flag3d24")
    assert ((g[2] > 0) == ((hop == 2) | (hop == 0))).all()
    np.testing.assert_allclose(g[1], g[1].T, atol=1e-7)


def test_build_graph_modes_and_error():
    assert build_graph("coco17", "adjacency").shape == (1, 17, 17)
    assert build_graph("coco17", "stgcn_spatial", max_hop=2).shape == (5, 17, 17)
    assert adjacency("h36m17").sum() == 2 * 16
    with pytest.raises(LayoutError, match="unknown graph mode 'gat'"):
        build_graph("coco17", "gat")
