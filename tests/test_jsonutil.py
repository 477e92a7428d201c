"""json_safe: nan and inf become None, everything else is left as it is."""

from __future__ import annotations

import json
import math

from shallownet.jsonutil import json_safe


def test_json_safe_leaves_finite_values_and_other_types_alone():
    obj = {"a": 1.25, "b": -0.0, "c": 3, "d": "nan", "e": None, "f": True,
           "g": [[math.nan], {"h": math.inf}]}
    assert json_safe(obj) == {"a": 1.25, "b": -0.0, "c": 3, "d": "nan", "e": None, "f": True,
                              "g": [[None], {"h": None}]}
    assert json_safe(math.nan) is None
    assert json_safe(2.5) == 2.5


def test_json_safe_output_is_strict_json():
    text = json.dumps(json_safe({"x": (math.nan, -math.inf, 1.0)}), allow_nan=False)
    assert json.loads(text) == {"x": [None, None, 1.0]}
