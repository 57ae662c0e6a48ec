"""Tests for flag3d.taxonomy: the data files, their validation and the name lookup."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import numpy as np
import pytest
import yaml

from flag3d.errors import TaxonomyError
from flag3d.synth.faults import STANDARDS as SYNTH_STANDARDS
from flag3d.skeleton.layouts import get_layout
from flag3d.taxonomy import (
    Activity,
    activities,
    body_parts,
    get_activity,
    load_taxonomy,
    name_key,
    standard_keys,
    text,
)
from flag3d.taxonomy.loader import DATA_FILES

DATA_DIR = Path(__file__).resolve().parents[1] / "src" / "flag3d" / "taxonomy" / "data"

# The official names, from shared/docs/flag3d-facts.md.
FLAG3D_NAMES = {
    "A001": "Svend Press", "A002": "Kneeling Push-ups",
    "A003": "Standing Straight-arm Chest Press With Resistance Band",
    "A004": "Small Dumbbell Floor Flies", "A005": "Chest Fly", "A006": "Push-ups",
    "A007": "Bent-over W-shape Stretch", "A008": "Bent-over Y-shape Stretch",
    "A009": "Bent-over A-shape Stretch", "A010": "Squat With Arm Lift",
    "A011": "Breaststroke Arm Pull", "A012": "Prone Y-shape Stretch",
    "A013": "Lateral Raise Forward Circles", "A014": "Lateral Raise Backward Circles",
    "A015": "Lying Shoulder Joint Upward Round", "A016": "Lying Shoulder Joint Downward Round",
    "A017": "Bare-handed Full Lateral Raise", "A018": "Bare-handed Cuban Press",
    "A019": "Fortune Cat", "A020": "Dumbbell Curls", "A021": "Alternate Dumbbell Curls",
    "A022": "Right-side Kettlebell Bent-over Row", "A023": "Wrist Joint Warm-up",
    "A024": "Right-side Bent-over Tricep Extension With Resistance Band",
    "A025": "Bent-over Dumbbell Tricep Extension", "A026": "Nod And Raise Head",
    "A027": "Two-way Head Turn", "A028": "Shrug And Sink The Shoulders",
    "A029": "Four-way Nod Head", "A030": "Lying Alternate Upper-half Leg Raise",
    "A031": "Half Roll Back", "A032": "Kneeling Right-side Torso Twist",
    "A033": "Left-side Knee Raise And Abdominal Muscles Contract",
    "A034": "Kneeling Right Leg Backward Stretch", "A035": "Kneeling Right Arm Raise",
    "A036": "Shoulder Bridge", "A037": "Prone Press-ups", "A038": "Bent-over Torso Rotation",
    "A039": "Lying Arm Pull", "A040": "Prone Press Up With Torso Rotation",
    "A041": "Breaststroke Push-ups", "A042": "Sit-ups",
    "A043": "Side-lying Left Leg Forward Raise", "A044": "Right Leg Reverse Lunge",
    "A045": "Kneeling Left Knee Lift", "A046": "Alternate Reverse Lunge",
    "A047": "Side-lying Right Leg Backward Kick", "A048": "Left Leg Lunge With Knee Lift",
    "A049": "Sumo Squat", "A050": "Straight Leg Calf Raise", "A051": "Squat Jump",
    "A052": "Squat With Alternate Knee Lift", "A053": "Standing Alternate Butt Kick",
    "A054": "Knee Warm-up", "A055": "Butt Kicks", "A056": "Jump Left and Right",
    "A057": "Jumping Jacks", "A058": "High Knee", "A059": "Clap Jacks",
    "A060": "Run In Place With Arm Swing",
}

# Body-part ranges, from the facts file (inclusive id numbers).
BODY_PART_RANGES = {
    "chest": (1, 6), "back": (7, 12), "shoulder": (13, 19), "arm": (20, 25), "neck": (26, 29),
    "abdomen": (30, 35), "waist": (36, 42), "hip": (43, 49), "leg": (50, 54), "whole body": (55, 60),
}

# The contract shared with the synthetic generator: it implements faults for these keys, so
# the taxonomy must carry exactly them, in this order (one table, owned by flag3d.synth).
SPEC_KEYS = SYNTH_STANDARDS

UIPRMD_NAMES = {
    "m01": "Deep Squat", "m02": "Hurdle Step", "m03": "Inline Lunge", "m04": "Side Lunge",
    "m05": "Sit To Stand", "m06": "Standing Active Straight Leg Raise",
    "m07": "Standing Shoulder Abduction", "m08": "Standing Shoulder Extension",
    "m09": "Standing Shoulder Internal-External Rotation", "m10": "Standing Shoulder Scaption",
}


def _words(s: str) -> int:
    return len(s.split())


def _sentences(s: str) -> int:
    return len(re.findall(r"[.!?](?:\s|$)", s))


# ---------------------------------------------------------------------------- the data
def test_counts_ids_and_names():
    flag, ui = activities("flag3d"), activities("uiprmd")
    assert (len(activities()), len(flag), len(ui)) == (70, 60, 10)
    assert {a.id: a.name for a in flag} == FLAG3D_NAMES
    assert {a.id: a.name for a in ui} == UIPRMD_NAMES
    assert [a.id for a in activities()] == [*FLAG3D_NAMES, *UIPRMD_NAMES]
    assert {a.source for a in flag} == {"flag3d"} and {a.source for a in ui} == {"uiprmd"}


def test_body_part_ranges_match_the_facts():
    for act in activities("flag3d"):
        n = int(act.id[1:])
        (part,) = [p for p, (lo, hi) in BODY_PART_RANGES.items() if lo <= n <= hi]
        assert act.body_part == part, act.id
    parts = body_parts()
    assert list(parts) == list(BODY_PART_RANGES)
    assert parts["shoulder"] == [f"A{i:03d}" for i in range(13, 20)]
    assert parts["whole body"] == ["A055", "A056", "A057", "A058", "A059", "A060"]
    assert {a.body_part for a in activities("uiprmd")} <= set(BODY_PART_RANGES)


@pytest.mark.parametrize("act", activities(), ids=lambda a: a.id)
def test_levels_present_and_nested(act: Activity):
    assert sorted(act.levels) == [1, 2, 3]
    assert all(act.levels[k].strip() for k in (1, 2, 3))
    assert act.levels[1] == act.name
    assert 2 <= _sentences(act.levels[2]) <= 3, act.levels[2]
    # Level 3 builds on level 2 (FLAG3D++ Sec. 5): the description, then the coaching.
    assert act.levels[3].startswith(act.levels[2] + " ")
    assert 4 <= _sentences(act.levels[3]) <= 6, act.levels[3]


@pytest.mark.parametrize("act", activities(), ids=lambda a: a.id)
def test_three_standards_with_valid_joints(act: Activity):
    layout = get_layout(act.layout)
    assert len(act.standards) == 3
    assert [s.index for s in act.standards] == [0, 1, 2]
    assert len(set(act.keys)) == 3
    for s in act.standards:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", s.key)
        assert s.text.endswith(".") and s.text[0].isupper()
        assert s.body_part and s.mistake and s.tip
        assert _words(s.tip) <= 15
        assert s.joints and all(layout.index(j) >= 0 for j in s.joints)
    assert act.primary_joints and all(layout.index(j) >= 0 for j in act.primary_joints)


def test_layouts_per_source():
    assert {a.layout for a in activities("flag3d")} == {"flag3d24"}
    assert {a.layout for a in activities("uiprmd")} == {"uiprmd22"}
    # a flag3d24 name is not a uiprmd22 name: the check is real
    with pytest.raises(Exception, match="has no joint 'pelvis'"):
        get_layout("uiprmd22").index("pelvis")


@pytest.mark.parametrize("act_id", sorted(SPEC_KEYS))
def test_spec_keys_in_order(act_id: str):
    assert standard_keys(act_id) == SPEC_KEYS[act_id]
    assert [s.key for s in get_activity(act_id).standards] == list(SPEC_KEYS[act_id])


def test_spec_texts_carry_the_meaning():
    assert "parallel" in get_activity("A049").standard("depth").text
    assert "90 degrees" in get_activity("A006").standard("depth").text
    assert "45 degrees" in get_activity("A002").standard("elbow_tuck").text
    assert "head to heels" in get_activity("A006").standard("body_line").text
    assert "above your head" in get_activity("A057").standard("arms_overhead").text
    assert "hip height" in get_activity("A052").standard("knee_height").text
    assert "70 degrees" in get_activity("A027").standard("full_turn").text


def test_word_counts_per_level():
    acts = activities()
    w2 = statistics.mean(_words(a.levels[2]) for a in acts)
    w3 = statistics.mean(_words(a.levels[3]) for a in acts)
    print(f"mean words: level 2 {w2:.1f}, level 3 {w3:.1f} ({len(acts)} activities)")
    assert w3 > w2 + 30, (w2, w3)
    assert 35 <= w2 <= 70, w2  # FLAG3D++ reports ~57 words per instruction
    assert 70 <= w3 <= 130, w3


def test_texts_are_plain_one_line_prose():
    for act in activities():
        for level in (2, 3):
            assert "\n" not in act.levels[level] and "  " not in act.levels[level]


# -------------------------------------------------------------------------- lookups
@pytest.mark.parametrize(
    "query, expected",
    [
        ("A052", "A052"), ("a52", "A052"), ("52", "A052"), (52, "A052"), (np.int64(52), "A052"),
        ("A0052", "A052"),
        ("1", "A001"), ("m01", "m01"), ("M1", "m01"), ("m10", "m10"),
        ("Squat With Alternate Knee Lift", "A052"), ("squat jump", "A051"),
        ("Squat-Jump", "A051"), ("jump squats", "A051"), ("pushups", "A006"),
        ("push up", "A006"), ("Press-Up", "A006"), ("kneeling pushups", "A002"),
        ("push ups kneeling", "A002"), ("jumping jack", "A057"), ("jumpin jacks", "A057"),
        ("jumping jax", "A057"), ("dumbell curls", "A020"), ("bicep curls", "A020"),
        ("alternating curls", "A021"), ("sumo squat", "A049"), ("sumo squats", "A049"),
        ("sit-up", "A042"), ("situps", "A042"), ("hi knees", "A058"), ("high knees", "A058"),
        ("butt kiks", "A055"), ("glute bridges", "A036"), ("cuban press", "A018"),
        ("calf raises", "A050"), ("svend pres", "A001"), ("deep sqaut", "m01"),
        ("sit to stand", "m05"), ("side lunge", "m04"), ("scaption", "m10"),
        ("A052 Squat With Alternate Knee Lift", "A052"), ("Jumping-Jacks!!", "A057"),
    ],
)
def test_get_activity(query, expected):
    assert get_activity(query).id == expected


def test_every_name_and_alias_finds_its_activity():
    for act in activities():
        assert get_activity(act.name) is act
        assert get_activity(act.name.upper()) is act
        for alias in act.aliases:
            assert get_activity(alias) is act, (alias, act.id)


def test_unknown_name_lists_the_closest():
    with pytest.raises(TaxonomyError, match=r"^unknown activity 'xyzzy'; closest: [Am]\d+ ") as err:
        get_activity("xyzzy")
    assert "\n" not in str(err.value) and str(err.value).count(",") == 2


def test_ambiguous_name_lists_the_candidates():
    msg = r"^ambiguous activity 'curls'; candidates: A020 Dumbbell Curls, A021 Alternate Dumbbell Curls$"
    with pytest.raises(TaxonomyError, match=msg):
        get_activity("curls")
    with pytest.raises(TaxonomyError, match="ambiguous activity 'squat'; candidates: A010 Squat With"):
        get_activity("squat")


@pytest.mark.parametrize(
    "query, message",
    [
        ("A061", "unknown activity id 'A061'; flag3d ids run from A001 to A060"),
        ("0", "unknown activity id '0'; flag3d ids run from A001 to A060"),
        ("m11", "unknown activity id 'm11'; uiprmd ids run from m01 to m10"),
        ("  ", "empty activity name"),
        ("!!!", "unknown activity '!!!'; it has no letters or digits"),
    ],
)
def test_bad_ids(query, message):
    with pytest.raises(TaxonomyError, match=re.escape(message)):
        get_activity(query)


def test_source_filter():
    assert get_activity("deep squat", source="uiprmd").id == "m01"
    with pytest.raises(TaxonomyError, match="'m01'; is not in the selected source"):
        get_activity("m01", source="flag3d")
    with pytest.raises(TaxonomyError, match="unknown taxonomy source 'kinect'"):
        activities("kinect")
    with pytest.raises(TaxonomyError, match="activity must be an id or a name, got float"):
        get_activity(5.0)  # type: ignore[arg-type]


def test_text_and_standard_access():
    act = get_activity("A052")
    assert text("A052", 1) == "Squat With Alternate Knee Lift"
    assert text(act, 2) == act.levels[2] and text("squat with alternate knee lift", 3) == act.levels[3]
    with pytest.raises(TaxonomyError, match=r"activity A052: level must be 1, 2 or 3, got 4"):
        text("A052", 4)
    assert act.standard(1) is act.standard("knee_height")
    with pytest.raises(TaxonomyError, match="activity A052 has no standard 'speed'"):
        act.standard("speed")
    assert repr(act) == "Activity('A052', 'Squat With Alternate Knee Lift', source='flag3d')"


def test_cached_and_immutable():
    a, b = activities(), activities()
    assert a is not b and all(x is y for x, y in zip(a, b))
    with pytest.raises(AttributeError):
        a[0].name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        a[0].levels[2] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    "raw, key",
    [("Push-ups", "pushup"), ("push up", "pushup"), ("PUSHUPS", "pushup"),
     ("Sumo Squats", "sumosquat"), ("Small Dumbbell Floor Flies", "smalldumbbellfloorfly"),
     ("Shrug And Sink The Shoulders", "shrugsinkshoulder"), ("Svend Press", "svendpress")],
)
def test_name_key(raw, key):
    assert name_key(raw) == key


# ------------------------------------------------------------------------- validation
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: much faster
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _write(tmp_path: Path, data: dict, name: str = "activities.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.dump(data, Dumper=_DUMPER, sort_keys=False), encoding="utf-8")
    return p


@pytest.fixture
def flag_data() -> dict:
    return yaml.load((DATA_DIR / DATA_FILES["flag3d"]).read_text(encoding="utf-8"), Loader=_LOADER)


def test_packaged_files_load_from_path():
    assert [a.id for a in load_taxonomy(DATA_DIR / "activities.yaml")] == list(FLAG3D_NAMES)
    assert [a.id for a in load_taxonomy(DATA_DIR / "rehab_movements.yaml")] == list(UIPRMD_NAMES)


def _expect(path: Path, message: str) -> None:
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg
    assert message in msg, msg


def test_validation_empty_and_broken_files(tmp_path: Path):
    (tmp_path / "empty.yaml").write_text("  \n")
    _expect(tmp_path / "empty.yaml", "empty taxonomy file")
    (tmp_path / "bad.yaml").write_text("source: flag3d\nactivities: [\n")
    _expect(tmp_path / "bad.yaml", "not valid YAML (line")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    _expect(tmp_path / "list.yaml", "expected a mapping with source, layout and activities")
    with pytest.raises(TaxonomyError, match="taxonomy file not found"):
        load_taxonomy(tmp_path / "nope.yaml")


def test_validation_missing_activity(tmp_path: Path, flag_data: dict):
    flag_data["activities"] = [a for a in flag_data["activities"] if a["id"] not in ("A013", "A040")]
    _expect(_write(tmp_path, flag_data), "missing flag3d activities: A013, A040")


def test_validation_duplicate_id(tmp_path: Path, flag_data: dict):
    flag_data["activities"].append(dict(flag_data["activities"][4]))
    _expect(_write(tmp_path, flag_data), "activity A005: id appears more than once")


def test_validation_unknown_joint(tmp_path: Path, flag_data: dict):
    flag_data["activities"][11]["standards"][2]["joints"] = ["neck", "left_hand"]
    _expect(_write(tmp_path, flag_data),
            "activity A012: standard 2 (neck_neutral): joints: unknown joint 'left_hand' for layout flag3d24")


def test_validation_two_standards(tmp_path: Path, flag_data: dict):
    del flag_data["activities"][0]["standards"][2]
    _expect(_write(tmp_path, flag_data), "activity A001: needs exactly 3 standards, found 2")


def test_validation_levels(tmp_path: Path, flag_data: dict):
    flag_data["activities"][5]["levels"][1] = "Pushups"
    _expect(_write(tmp_path, flag_data), "activity A006: level 1 must equal the name 'Push-ups'")
    flag_data["activities"][5]["levels"][1] = "Push-ups"
    flag_data["activities"][5]["levels"][3] = "   "
    _expect(_write(tmp_path, flag_data), "activity A006: level 3 must be a non-empty string")
    del flag_data["activities"][5]["levels"][3]
    _expect(_write(tmp_path, flag_data), "activity A006: levels must have exactly the keys 1, 2, 3")


def test_validation_keys_tips_aliases(tmp_path: Path, flag_data: dict):
    std = flag_data["activities"][9]["standards"]
    std[1]["key"] = "depth"
    _expect(_write(tmp_path, flag_data), "activity A010: standard keys must be unique")
    std[1]["key"] = "Arms Overhead"
    _expect(_write(tmp_path, flag_data), "standard 1: key 'Arms Overhead' is not snake_case")
    std[1]["key"] = "arms_overhead"
    std[1]["tip"] = " ".join(["word"] * 16)
    _expect(_write(tmp_path, flag_data), "tip has 16 words, at most 15 allowed")
    std[1]["tip"] = "Reach up."
    flag_data["activities"][9]["aliases"].append("Sumo-Squats")
    _expect(_write(tmp_path, flag_data),
            "activity A049: name or alias 'Sumo Squat' is also a name or alias of A010")


def test_validation_fields_and_layout(tmp_path: Path, flag_data: dict):
    flag_data["activities"][2]["colour"] = "red"
    _expect(_write(tmp_path, flag_data), "activity A003: unknown field(s) colour")
    del flag_data["activities"][2]["colour"]
    del flag_data["activities"][2]["primary_joints"]
    _expect(_write(tmp_path, flag_data), "activity A003: missing field(s) primary_joints")
    flag_data["layout"] = "ntu99"
    _expect(_write(tmp_path, flag_data), "unknown layout 'ntu99'")
    flag_data["layout"] = "coco17"
    _expect(_write(tmp_path, flag_data), "layout of flag3d must be flag3d24, got coco17")


def test_validation_body_part_and_id(tmp_path: Path, flag_data: dict):
    flag_data["activities"][0]["body_part"] = "pecs"
    _expect(_write(tmp_path, flag_data), "activity A001: body_part 'pecs' is not one of: chest, back")
    flag_data["activities"][0]["body_part"] = "chest"
    flag_data["activities"][0]["id"] = "m01"
    _expect(_write(tmp_path, flag_data), "activity m01: id 'm01' is not a flag3d id (A001..A060)")
