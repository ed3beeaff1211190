"""Manifests record dataset folders absolute too; relative ones resolve against the manifest's folder (issue 22)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from edgeseg.core.manifest import Manifest
from edgeseg.core.presets import CAMVID
from edgeseg.data.calibration import calibration_set


def test_relative_dataset_path_works_from_any_folder(samples_dir, tmp_path, monkeypatch) -> None:
    data = tmp_path / "shared" / "camvid"
    shutil.copytree(samples_dir, data)
    repo = tmp_path / "repo"
    (repo / "runs" / "enet").mkdir(parents=True)
    monkeypatch.chdir(repo)  # as `edgeseg train --data ../shared/camvid --out runs/enet` records it
    Manifest(CAMVID, dataset={"path": "../shared/camvid", "split": None, "count": 11}).save("runs/enet/manifest.json")
    saved = json.loads((repo / "runs" / "enet" / "manifest.json").read_text())["dataset"]
    assert saved["path_abs"] == str(data) and saved["path"] == os.path.join("..", "..", "..", "shared", "camvid")
    assert saved["count"] == 11

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # `edgeseg convert runs/enet/best.h5 --int8` from another folder
    m = Manifest.load(repo / "runs" / "enet" / "manifest.json")
    assert m["dataset"]["path"] == str(data)
    calib = calibration_set(None, m, CAMVID, (32, 48), 4)
    assert calib is not None and len(calib) == 4 and Path(calib.source).parent == data


def test_moved_together_still_resolves_and_abs_is_the_fallback(samples_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(samples_dir, tmp_path / "proj" / "data")
    Manifest(CAMVID, dataset={"path": "proj/data"}).save(tmp_path / "proj" / "run" / "manifest.json")
    shutil.move(tmp_path / "proj", tmp_path / "moved")  # run folder and data moved together
    m = Manifest.load(tmp_path / "moved" / "run" / "manifest.json")
    assert m["dataset"]["path"] == str(tmp_path / "moved" / "data")
    # an absolute path written by the trainer stays absolute; the manifest can move alone
    Manifest(CAMVID, dataset={"images": str(tmp_path / "moved" / "data" / "images")}).save(tmp_path / "a" / "m.json")
    shutil.move(tmp_path / "a", tmp_path / "b")
    m = Manifest.load(tmp_path / "b" / "m.json")
    assert m["dataset"]["images"] == str(tmp_path / "moved" / "data" / "images") and "images_abs" not in m["dataset"]


def test_sidecar_copy_is_rebased(samples_dir, tmp_path, monkeypatch) -> None:
    """convert copies the model manifest's dataset section into artifact sidecars in another folder."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(samples_dir, tmp_path / "data")
    Manifest(CAMVID, dataset={"path": "data"}).save(tmp_path / "run" / "manifest.json")
    m = Manifest.load(tmp_path / "run" / "manifest.json")
    Manifest(CAMVID, dataset=m["dataset"]).save(tmp_path / "out" / "deep" / "x.tflite.json")
    monkeypatch.chdir(tmp_path / "out")
    again = Manifest.load(tmp_path / "out" / "deep" / "x.tflite.json")
    assert again["dataset"]["path"] == str(tmp_path / "data")
