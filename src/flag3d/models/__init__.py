"""Networks: one file per backbone, task heads separate, weights as safetensors + JSON.

Example:
    >>> from flag3d.models.checkpoint import CHECKPOINT_FILES
    >>> CHECKPOINT_FILES
    ('model.safetensors', 'config.json', 'info.json')
"""
