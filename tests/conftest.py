"""Shared test fixtures.

Real data lives outside the repository (``../shared/data`` or ``$FLAG3D_SHARED_DATA``);
tests that need it use :func:`shared_path` and are skipped with the reason when it is
absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flag3d.paths import ENV_SHARED, shared_data_dir


def shared_path(*parts: str) -> Path:
    """Path inside the shared real data, or skip the calling test with a clear reason."""
    root = shared_data_dir()
    if root is None:
        pytest.skip(
            f"real data not found: set {ENV_SHARED} or place it at ../shared/data "
            "(see README, 'Real data')"
        )
    p = root.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data file missing: {p}")
    return p


@pytest.fixture
def shared() -> "type[Path] | object":
    """The :func:`shared_path` helper as a fixture: ``shared('uiprmd', 'correct')``."""
    return shared_path
