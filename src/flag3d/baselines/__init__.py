"""Training-free and simple learned baselines, one module per idea.

* :mod:`flag3d.baselines.counting`: the repetition-counting baselines of FLAG3D++ Table 3
  (Random, KNN, PCA + peaks, Fourier, wavelet, RepNet-style TSM) and the joint-angle counter
  that ``flag3d count`` uses without a model, all behind ``make_counter(name)``; built from
  :mod:`~flag3d.baselines.base`, :mod:`~flag3d.baselines.features`,
  :mod:`~flag3d.baselines.cycles`, :mod:`~flag3d.baselines.learned`,
  :mod:`~flag3d.baselines.spectral`, :mod:`~flag3d.baselines.selfsim` and
  :mod:`~flag3d.baselines.angles`.
* :mod:`flag3d.baselines.quality`: quality-assessment baselines.

Example:
    >>> from flag3d.baselines.counting import make_counter
    >>> make_counter("fourier").name
    'fourier'
"""
