"""Mixed-precision training: how `auto` decides, the 16-bit training copy, float32 files, fp16 loss scaling."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from edgeseg.cli.main import main
from edgeseg.errors import UsageError
from edgeseg.train import precision as P

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "camvid"
TINY = ["--model", "unet", "--model-option", "depth=2", "--model-option", "base_width=8",
        "--images", str(SAMPLES / "images"), "--masks", str(SAMPLES / "masks"), "--input-size", "48x64",
        "--batch-size", "4", "--steps-per-epoch", "2", "--quiet"]


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx512f avx512_bf16 "
                    "avx512_vnni\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert P.cpu_flags(info) == {"fpu", "sse2", "avx512f", "avx512_bf16", "avx512_vnni"}
    assert P.cpu_flags(tmp_path / "absent") == set()


def test_auto_picks_bf16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P, "_gpu_bf16", lambda: None)
    chosen = P.resolve_precision("auto", flags={"avx2", "avx512_bf16"})
    assert (chosen.name, chosen.policy, chosen.mixed) == ("bf16", "mixed_bfloat16", True)
    assert "avx512_bf16" in chosen.reason
    assert P.resolve_precision("auto", flags={"amx_bf16"}).name == "bf16"
    plain = P.resolve_precision("auto", flags={"avx2", "avx512f", "avx512_vnni"})
    assert (plain.name, plain.policy, plain.mixed) == ("fp32", "float32", False)
    assert P.resolve_precision("fp16", flags=set()).policy == "mixed_float16"
    monkeypatch.setattr(P, "_gpu_bf16", lambda: "NVIDIA H100")
    assert P.resolve_precision("auto", flags=set()).name == "bf16"


def test_qat_stays_fp32() -> None:
    assert P.resolve_precision("auto", qat=True, flags={"avx512_bf16"}).name == "fp32"
    with pytest.raises(UsageError, match="fp32"):
        P.resolve_precision("bf16", qat=True)
    with pytest.raises(UsageError, match="--precision"):
        P.resolve_precision("int4")


def test_training_copy_computes_in_bf16_with_float32_weights_and_logits() -> None:
    from edgeseg import models
    from edgeseg._keras import tf

    model = models.build("unet", 11, (48, 64), depth=2, base_width=16)
    mixed = P.with_policy(model, "mixed_bfloat16")
    assert P.float32_layers(model, "mixed_bfloat16") == {mixed.layers[-1].name}  # widths 16, 32: bf16 kernels
    inner = [layer for layer in mixed.layers if layer.weights and layer.name != mixed.layers[-1].name]
    assert inner and all(layer.compute_dtype == "bfloat16" for layer in inner)
    assert all(w.dtype == tf.float32 for w in mixed.weights)
    assert mixed.layers[-1].compute_dtype == "float32"
    for a, b in zip(model.get_weights(), mixed.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).normal(size=(2, 48, 64, 3)).astype(np.float32)
    ref, low = model(x).numpy(), mixed(x).numpy()
    assert low.dtype == np.float32
    err = np.abs(ref - low).max() / np.abs(ref).max()
    assert 0 < err < 0.05  # bf16 (8-bit mantissa) arithmetic really ran, and stays close



def test_bf16_keeps_batch_norms_of_widths_without_a_bf16_kernel_in_float32() -> None:
    """oneDNN's bf16 batch norm falls back to a ~10x slower reference kernel below 16-channel multiples."""
    from edgeseg import models

    model = models.build("linknet", 11, (64, 96), base_width=32)  # dec1's two batch norms have 8 channels
    narrow = {layer.name for layer in model.layers if type(layer).__name__ == "BatchNormalization"
              and layer.output.shape[-1] % P.BF16_BN_CHANNELS}
    assert narrow == {"dec1_reduce_bn", "dec1_fullconv_bn"}
    mixed = P.with_policy(model, "mixed_bfloat16")
    floats = {layer.name for layer in mixed.layers if layer.weights and layer.compute_dtype == "float32"}
    assert floats == narrow | {"classifier"}
    assert P.float32_layers(model, "mixed_float16") == {"classifier"}  # fp16 kernels are not affected
    x = np.random.default_rng(0).normal(size=(1, 64, 96, 3)).astype(np.float32)
    assert np.abs(model(x).numpy() - mixed(x).numpy()).max() < 0.05 * np.abs(model(x).numpy()).max()

def _layer_dtypes(h5: Path) -> set[str]:
    with h5py.File(h5, "r") as f:
        config = json.loads(f.attrs["model_config"])
    return {json.dumps(layer["config"].get("dtype")) for layer in config["config"]["layers"]}


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_runs_save_plain_float32_models_and_resume(tmp_path: Path, precision: str,
                                                         capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--precision", precision, "--ema", "0.9", "--out", str(out)]) == 0
    assert f"precision {precision} (requested)" in capsys.readouterr().out
    for name in ("best.h5", "last.h5"):
        assert _layer_dtypes(out / name) == {'"float32"'}, name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["precision"] == precision
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["epochs_done"] == 2 and manifest["training"]["precision"] == precision
    rows = (out / "history.csv").read_text().splitlines()
    assert len(rows) == 3 and all(np.isfinite(float(r.split(",")[1])) for r in rows[1:])


def test_qat_with_bf16_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["train", "--qat", "--from", str(tmp_path / "m.h5"), "--precision", "bf16",
                 "--images", str(SAMPLES / "images"), "--masks", str(SAMPLES / "masks"), "--out", str(tmp_path / "q")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "fp32" in err


def test_resuming_a_run_from_before_precision_goes_on_in_fp32(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--precision", "fp32", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["args"]["precision"] == "fp32"  # what ran, not the flag
    del manifest["training"]["args"]["precision"]  # as written before --precision existed,
    del manifest["training"]["request"]  # and before the versioned request: training.args alone
    (out / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--quiet"]) == 0
    assert "precision fp32 (requested)" in capsys.readouterr().out
