"""Skeleton core: layouts, the :class:`Sequence` record, graphs, conversions and transforms.

Example:
    >>> from flag3d.skeleton import Sequence, get_layout
    >>> get_layout("ntu25").num_joints
    25
"""

from flag3d.skeleton.layouts import Layout, get_layout, layout_names
from flag3d.skeleton.sequence import Sequence

__all__ = ["Layout", "Sequence", "get_layout", "layout_names"]
