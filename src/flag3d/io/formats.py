"""Imports every format module so that each registers itself (order = detection order).

Add a new format by writing ``flag3d/io/<name>.py`` that calls
:func:`flag3d.io.registry.register_format`, and importing it here.
"""

from flag3d.io import flag3d_rac, keraal, npz, pyskl, repcount, uiprmd  # noqa: F401

# Detection tries formats in registration order, i.e. the import order above would matter
# if two detectors accepted the same path; they are written to be disjoint.
