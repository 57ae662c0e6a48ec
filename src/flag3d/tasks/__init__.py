"""Training and evaluation of each task (one module per task) on PyTorch Lightning.

Example:
    >>> from flag3d.tasks.trainer import TrainOptions
    >>> TrainOptions().precision
    '32-true'
"""
