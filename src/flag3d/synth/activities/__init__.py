"""Motion programs of the synthetic activities, one module per family.

Importing this package registers every program (``upper``, ``legs``, ``floor``,
``pushups``, ``cardio``); :func:`activity_ids` lists them and :func:`get_activity` returns a spec.

Example:
    >>> from flag3d.synth.activities import activity_ids
    >>> len(activity_ids()), activity_ids()[:3]
    (25, ['A002', 'A006', 'A010'])
"""

# Program modules register themselves on import.
from flag3d.synth.activities import cardio as _cardio  # noqa: F401,E402
from flag3d.synth.activities import floor as _floor  # noqa: F401,E402
from flag3d.synth.activities import legs as _legs  # noqa: F401,E402
from flag3d.synth.activities import pushups as _pushups  # noqa: F401,E402
from flag3d.synth.activities import upper as _upper  # noqa: F401,E402
from flag3d.synth.activities.base import ActivitySpec, activity_ids, get_activity, register

__all__ = ["ActivitySpec", "activity_ids", "get_activity", "register"]
