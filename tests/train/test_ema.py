"""Weight averaging (--ema): best.h5 holds the averages, last.h5 the raw weights, resume keeps both."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from edgeseg.cli.main import main


@pytest.mark.parametrize("crop", [None, "32x48"])
def test_ema_run_saves_averages_and_resumes(tmp_path: Path, samples_dir: Path, crop: str | None) -> None:
    from edgeseg.train import outputs

    out = tmp_path / "run"
    args = ["train", "--model", "unet", "--model-option", "depth=2", "--model-option", "base_width=4",
            "--images", str(samples_dir / "images"), "--masks", str(samples_dir / "masks"), "--input-size", "48x64",
            "--batch-size", "4", "--steps-per-epoch", "3", "--quiet", "--epochs", "1", "--lr", "1e-2",
            "--ema", "0.5", "--out", str(out)]
    args += ["--crop", crop] if crop else []
    assert main(args) == 0
    with open(out / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    last, best = outputs.load_model(out / "last.h5"), outputs.load_model(out / "best.h5")
    state, _ = outputs.load_state(out)
    # The state holds Adam's slots and one average per trainable weight: best.h5 holds those averages.
    for w in best.trainable_weights:
        assert any(a.shape == tuple(w.shape) and np.array_equal(a, w.numpy()) for a in state), w.name
    raw_vs_avg = [np.abs(lw - bw).max() for lw, bw, w in zip(last.get_weights(), best.get_weights(), best.weights)
                  if w.trainable]
    assert max(raw_vs_avg) > 1e-4  # three steps at lr 1e-2 with momentum 0.5: the average lags the raw weights
    frozen = [np.array_equal(lw, bw) for lw, bw, w in zip(last.get_weights(), best.get_weights(), best.weights)
              if not w.trainable]
    assert frozen and all(frozen)  # BatchNorm statistics are not averaged
    # Resume restores the averages too (the optimizer variable count includes them) and runs on.
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--quiet"]) == 0
    assert outputs.load_state(out)[1]["next_epoch"] == 2


def test_ema_validation_scores_raw_and_averaged(tmp_path: Path, samples_dir: Path) -> None:
    """With a validation split, history.csv has val_miou (averages) and val_miou_raw."""
    from edgeseg._keras import keras
    from edgeseg import models
    from edgeseg.core.dataset import FolderDataset
    from edgeseg.core.presets import CAMVID
    from edgeseg.data.augment import Augment
    from edgeseg.data.pipeline import FrameCache, PipelineConfig
    from edgeseg.train.loop import Trainer, TrainConfig
    from edgeseg.train.optim import OptimConfig

    keras.utils.set_random_seed(0)
    frames = FrameCache(FolderDataset(samples_dir / "images", samples_dir / "masks", CAMVID).subset(8))
    pipe = PipelineConfig(input_size=(48, 64), output_stride=4, augment=Augment.none())
    cfg = TrainConfig(epochs=2, batch_size=4, optim=OptimConfig(lr=1e-2, schedule="constant", ema=0.9), seed=1)
    trainer = Trainer(lambda: models.build("unet", 11, (48, 64), depth=2, base_width=4), CAMVID, pipe, cfg,
                      frames, frames, tmp_path)
    assert trainer.eval_model is not trainer.model  # the averages live in a model of their own
    summary = trainer.fit()
    rec = summary.records[-1]
    assert rec.val is not None and rec.val_raw is not None
    header = (tmp_path / "history.csv").read_text().splitlines()[0].split(",")
    assert "val_miou_raw" in header and "val_miou" in header
    # The averaged model equals the optimizer's averages; the training model keeps the raw weights.
    avg = [a.numpy() for a in trainer.optimizer._model_variables_moving_average]
    trainer._sync()
    got = [w.numpy() for w in trainer.eval_model.trainable_weights]
    for a, g in zip(avg, got):
        np.testing.assert_array_equal(a, g)
    raw = [w.numpy() for w in trainer.model.trainable_weights]
    assert any(not np.array_equal(a, r) for a, r in zip(avg, raw))


def test_ema_flag_errors(tmp_path: Path, samples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "--model", "unet", "--images", str(samples_dir / "images"), "--masks", str(samples_dir / "masks"),
            "--out", str(tmp_path / "r")]
    assert main([*base, "--ema", "1.5"]) != 0
    assert "--ema must be in [0, 1)" in capsys.readouterr().err
    assert main([*base, "--ema", "0.9", "--qat", "--from", str(tmp_path / "x.h5")]) != 0
    assert "--ema is for float training" in capsys.readouterr().err


def test_saving_logs_no_compile_notice(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """tf_keras logs a misleading 'compiled metrics' warning on each .h5 save of an uncompiled model."""
    import logging

    from edgeseg import models
    from edgeseg.train import outputs

    model = models.build("unet", 3, (32, 32), depth=2, base_width=4)
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        outputs.save_model(model, tmp_path / "m.h5")
    assert (tmp_path / "m.h5").is_file()
    assert not [r for r in caplog.records if "compiled metrics" in r.getMessage()]
    # the filter is removed again: other code still sees tf_keras's own messages
    assert outputs._not_compile_notice not in logging.getLogger("tensorflow").filters


def test_val_every_scores_some_epochs_and_picks_best_among_them(tmp_path: Path, samples_dir: Path) -> None:
    """--val-every 2 over 3 epochs scores epochs 2 and 3 (the last), raw and averaged; best.h5 is one of them."""
    from edgeseg._keras import keras
    from edgeseg import models
    from edgeseg.core.dataset import FolderDataset
    from edgeseg.errors import UsageError
    from edgeseg.core.presets import CAMVID
    from edgeseg.data.augment import Augment
    from edgeseg.data.pipeline import FrameCache, PipelineConfig
    from edgeseg.train.loop import Trainer, TrainConfig
    from edgeseg.train.optim import OptimConfig

    with pytest.raises(UsageError, match="--val-every"):
        TrainConfig(epochs=3, batch_size=4, val_every=0)
    keras.utils.set_random_seed(0)
    frames = FrameCache(FolderDataset(samples_dir / "images", samples_dir / "masks", CAMVID).subset(8))
    pipe = PipelineConfig(input_size=(48, 64), output_stride=4, augment=Augment.none())
    cfg = TrainConfig(epochs=3, batch_size=4, optim=OptimConfig(lr=1e-2, schedule="constant", ema=0.9), seed=1,
                      val_every=2)
    trainer = Trainer(lambda: models.build("unet", 11, (48, 64), depth=2, base_width=4), CAMVID, pipe, cfg,
                      frames, frames, tmp_path)
    summary = trainer.fit()
    scored = [r.val is not None for r in summary.records]
    assert scored == [False, True, True]
    assert [r.val_raw is not None for r in summary.records] == scored
    assert summary.best_epoch in (2, 3)
    best = max((r for r in summary.records if r.val), key=lambda r: r.val.miou)
    assert summary.best_miou == best.val.miou
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert [row["val_miou"] != "" for row in rows] == scored
