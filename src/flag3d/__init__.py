"""flag3d: 3D fitness activity comprehension with language instructions.

Skeleton data (readers, a dataset store, a taxonomy of 60 FLAG3D activities, a synthetic
FLAG3D-like generator), recognition, language-guided repetition counting and quality
assessment.  See the README for the commands.

Example:
    >>> import flag3d
    >>> isinstance(flag3d.__version__, str)
    True
"""

__version__ = "0.1.0"
