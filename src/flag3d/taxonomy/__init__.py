"""The activity taxonomy: 60 FLAG3D activities and 10 UI-PRMD movements.

Each :class:`Activity` has an id, a name, a body part, three language levels as in
FLAG3D++ (1 the name, 2 a description of the movement, 3 the coach's instructions with
cues, breathing and common mistakes), three checkable :class:`Standard` s (the columns of
the per-repetition key scores of FLAG3D++ Eq. 1), aliases and the joints that best show the
repetitions.  The data lives in ``taxonomy/data/*.yaml``; it is validated and cached on
first use.  The quality score itself (Eq. 1) is computed by the quality module, not here.

Example:
    >>> from flag3d.taxonomy import get_activity, text, body_parts, activities
    >>> act = get_activity("squat with alternate knee lift")
    >>> act.id, act.body_part, act.keys
    ('A052', 'leg', ('depth', 'knee_height', 'knees_track_toes'))
    >>> text("A052", 1)
    'Squat With Alternate Knee Lift'
    >>> act.standard("knee_height").tip
    'Drive your knee up until your thigh is level with your hip.'
    >>> len(activities("flag3d")), list(body_parts())[-1]
    (60, 'whole body')
"""

from flag3d.taxonomy.loader import activities, body_parts, load_taxonomy, parse_taxonomy
from flag3d.taxonomy.lookup import get_activity, standard_keys, text
from flag3d.taxonomy.model import Activity, Standard
from flag3d.taxonomy.names import name_key

__all__ = [
    "Activity",
    "Standard",
    "activities",
    "body_parts",
    "get_activity",
    "load_taxonomy",
    "name_key",
    "parse_taxonomy",
    "standard_keys",
    "text",
]
