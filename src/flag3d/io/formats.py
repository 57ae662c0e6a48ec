"""Imports every format module so that each registers itself (order = detection order).

Add a new format by writing ``flag3d/io/<name>.py`` that calls
:func:`flag3d.io.registry.register_format`, and importing it here.
"""

import importlib

_MODULES = ("pyskl", "flag3d_rac", "uiprmd", "keraal", "repcount", "npz")

for _name in _MODULES:
    try:
        importlib.import_module(f"flag3d.io.{_name}")
    except ModuleNotFoundError as _err:  # a format module not written yet
        if _err.name != f"flag3d.io.{_name}":
            raise
