"""bench.report: the JSON document and tables the bench CLI prints, built outside the CLI."""

from __future__ import annotations

import json

from edgeseg.bench.report import format_per_class, json_safe, make_report, report_json


def test_json_safe_turns_nan_into_null_at_any_depth() -> None:
    doc = {"a": float("nan"), "b": [1.5, (float("nan"), "x")], "c": {"d": float("nan")}}
    assert json_safe(doc) == {"a": None, "b": [1.5, [None, "x"]], "c": {"d": None}}
    assert json.loads(report_json(doc)) == {"a": None, "b": [1.5, [None, "x"]], "c": {"d": None}}
    assert report_json(doc).endswith("}\n")


def test_one_result_is_the_report_several_are_listed() -> None:
    one = {"artifact": "m.tflite"}
    assert make_report([one], []) is one
    many = make_report([one, one], [{"artifact": "x", "error": "boom"}])
    assert many["results"] == [one, one] and many["failures"][0]["error"] == "boom"
    assert {"machine", "versions"} <= set(many)


def test_per_class_table_only_for_scored_results() -> None:
    assert format_per_class([{"artifact": "m.tflite", "runtime": "litert"}]) == ""
    r = {"artifact": "m.tflite", "runtime": "litert", "per_class_iou_pct": {"sky": 90.44, "road": None},
         "per_class_precision_pct": {"sky": 95.16, "road": None}, "per_class_accuracy_pct": {"sky": 94.33}}
    lines = format_per_class([r]).splitlines()
    assert lines[0].split() == ["class", "IoU", "prec", "recall"]
    assert lines[2].split() == ["sky", "90.4", "95.2", "94.3"]  # one decimal; IoU, precision, recall
    assert lines[3].split() == ["road", "-", "-", "-"]  # not scored: blank, never 0
