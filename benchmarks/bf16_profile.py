"""Where a bf16 training step spends its time: per-op-type profile and part timings, fp32 against bf16.

Usage:
    .venv/bin/python benchmarks/bf16_profile.py [--model linknet] [--options base_width=32] [--size 256x320]
        [--batch 8] [--threads 2] [--profile-steps 4] [--rounds 3] [--warmup 2] [--steps 6]
        [--profile-variants fp32,bf16] [--arms full-fp32,full-bf16,...] [--no-profile] [--out FILE.json]

Every arm trains the same network on one constant batch (no input pipeline) with edgeseg's own
pieces: ``models.build``, ``precision.with_policy`` (Keras' ``mixed_bfloat16``, variables and the
classifier float32), ``losses.make_loss`` and ``optim.make_optimizer`` (Adam, as ``edgeseg train``
builds it), n steps per ``tf.function`` call as the Trainer runs them.

1. **Profile** (skip with ``--no-profile``): ``tf.profiler`` traces ``--profile-steps`` full steps in
   each precision (fp32, bf16, fp32, bf16); the op events of the trace are summed per op type and per
   part of the step (forward, backward = ``gradient_tape/``, optimizer), in ms per step. Op times
   are wall times of the kernels on the executor threads; with two threads ops can overlap, so the
   sum may exceed the step time.
2. **Part timings:** arms alternate round by round (A B C ... A B C ...) so the machine's drift cancels
   in the ratios; each measurement records wall time AND process CPU time (all threads), and on a
   shared machine the CPU time is the figure to compare (it barely moves with the load, wall time
   moves 2-3x). Arms: ``full-P`` forward + backward + Adam, ``grad-P`` forward + backward only,
   ``fwd-P`` forward only (training mode), ``adam`` / ``adam-ema`` the optimizer update alone on
   constant gradients, ``full-P-ema`` with ``--ema 0.995``, ``full-bf16-bnfp32`` bf16 with the
   BatchNormalization layers kept in float32, ``full-bf16-tailfp32`` the full-resolution layers that
   feed only the classifier kept float32 too, ``full-bf16-allbf16`` the classifier in bf16 too,
   ``loop-P`` edgeseg's Trainer (augmented tf.data input, as ``edgeseg train``), ``pipe`` the
   Trainer's input pipeline alone (one batch per step; use many steps, its prefetch buffer hides a
   few batches), ``loss`` / ``loss-fused`` the ce loss and its gradient on float32 logits (edgeseg's, which
   is ``logsumexp - picked logit`` since session 6, and the same with TensorFlow's fused kernel). In the
   recorded runs 3-7 (before that change) ``loss`` was the fused kernel and ``loss-lse`` the logsumexp form.

The float32 conv error against float64 is printed and recorded: it shows whether oneDNN was made to
compute f32 convolutions in bf16 (e.g. ``ONEDNN_DEFAULT_FPMATH_MODE=BF16``; on TF 2.21 it was not).

Prints tables and writes JSON (per-op-type ms, images/s per arm and round, ratios, machine,
versions, load average, command).
"""

from __future__ import annotations

import argparse
import copy
import glob
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ARMS = ("full-fp32", "full-bf16", "full-bf16-tailfp32", "grad-fp32", "grad-bf16", "fwd-fp32", "fwd-bf16", "adam", "adam-ema",
        "full-fp32-ema", "full-bf16-ema", "full-bf16-bnfp32", "full-bf16-allbf16", "loop-fp32", "loop-bf16",
        "pipe", "loss", "loss-fused")


def _policy_copy(model, keep_float32=lambda layer: False):
    """``with_policy`` with a choice of which layers stay float32."""
    from edgeseg._keras import keras

    config = copy.deepcopy(model.get_config())
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            continue
        name = "float32" if keep_float32(layer) else "mixed_bfloat16"
        layer["config"]["dtype"] = {"class_name": "Policy", "config": {"name": name}}
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def _model(args, variant: str):
    from edgeseg import models
    from edgeseg._keras import keras
    from edgeseg.train.precision import with_policy

    keras.utils.set_random_seed(0)
    model = models.build(args.model, args.classes, args.size, **args.options)
    if variant == "fp32":
        return model
    if variant == "bf16":
        return with_policy(model, "mixed_bfloat16")
    if variant == "bf16-bnfp32":
        outputs = {e[0] for e in model.get_config()["output_layers"]}
        return _policy_copy(model, lambda l: l["class_name"] == "BatchNormalization" or l["config"]["name"] in outputs)
    if variant == "bf16-tailfp32":  # the output layers and the full-resolution layers feeding only them: float32
        outputs = {e[0] for e in model.get_config()["output_layers"]}
        tail = set(outputs)
        full = tuple(model.output_shape[1:3])
        for layer in reversed(model.layers):
            consumers = {n.outbound_layer.name for n in layer._outbound_nodes}
            if (consumers and consumers <= tail and layer.__class__.__name__ != "InputLayer"
                    and tuple(layer.output_shape[1:3]) == full):
                tail.add(layer.name)
        print("float32 tail:", sorted(tail), file=sys.stderr)
        return _policy_copy(model, lambda l: l["config"]["name"] in tail)
    if variant == "bf16-allbf16":
        return with_policy(model, "mixed_bfloat16", float32_outputs=False)
    raise ValueError(variant)


def _step_fn(args, kind: str, variant: str, ema: bool = False):
    """``run(steps)``: ``steps`` steps of ``kind`` (full / grad / fwd / adam) in one graph call."""
    import numpy as np

    from edgeseg._keras import tf
    from edgeseg.train.losses import make_loss
    from edgeseg.train.optim import OptimConfig, make_optimizer

    model = _model(args, variant)
    opt, _ = make_optimizer(OptimConfig(lr=1e-3, ema=0.995 if ema else 0.0), 10_000)
    opt.build(model.trainable_variables)
    loss_fn = make_loss("ce", args.classes)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(args.batch, *args.size, 3)).astype(np.float32))
    y = tf.constant(rng.integers(0, args.classes + 1, size=(args.batch, *args.size)).astype(np.uint8))
    const_g = [tf.constant(rng.normal(scale=1e-3, size=v.shape).astype(np.float32)) for v in model.trainable_variables]

    def one() -> tf.Tensor:
        if kind == "adam":
            opt.apply_gradients(zip(const_g, model.trainable_variables))
            return tf.zeros([])
        if kind == "fwd":
            return tf.reduce_mean(tf.cast(model(x, training=True), tf.float32))
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        g = tape.gradient(loss, model.trainable_variables)
        if kind == "grad":  # keep every gradient alive without an update
            return loss + tf.add_n([tf.reduce_sum(t[..., :1]) for t in g]) * 0.0
        opt.apply_gradients(zip(g, model.trainable_variables))
        return loss

    @tf.function
    def multi(n: tf.Tensor) -> tf.Tensor:
        total = tf.zeros([], tf.float32)
        for _ in tf.range(n):
            total += tf.cast(one(), tf.float32)
        return total

    def run(steps: int) -> None:
        float(multi(tf.constant(steps, tf.int32)))

    run(1)  # trace
    return run


def _frames(args):
    from edgeseg.core.dataset import FolderDataset, resolve_dataset
    from edgeseg.core.presets import CAMVID
    from edgeseg.data.pipeline import FrameCache

    data = args.data if args.data.is_dir() else REPO / "samples" / "camvid"
    if (data / "train").is_dir():
        ds = resolve_dataset(data, CAMVID, split="train")
    else:
        ds = FolderDataset(data / "images", data / "masks", CAMVID)
    return CAMVID, FrameCache(ds.subset(min(args.frames, len(ds))))


def _trainer(args, precision: str):
    """edgeseg's Trainer as ``edgeseg train`` builds it (defaults: ce loss, Adam, augmentation)."""
    from edgeseg import models
    from edgeseg._keras import keras
    from edgeseg.data.pipeline import PipelineConfig
    from edgeseg.train.loop import Trainer, TrainConfig

    if not hasattr(args, "_frames"):
        args._frames = _frames(args)
    spec, frames = args._frames
    keras.utils.set_random_seed(0)
    pipe = PipelineConfig(input_size=args.size, output_stride=models.input_multiple(args.model))
    trainer = Trainer(lambda: models.build(args.model, spec.num_classes, args.size, **args.options), spec, pipe,
                      TrainConfig(epochs=200, batch_size=args.batch, precision=precision), frames)
    return trainer, trainer.batches()


def _loop_arm(args, precision: str):
    trainer, it = _trainer(args, precision)

    def run(steps: int) -> None:
        trainer.train_steps(it, steps)

    run(2)
    return run


def _pipe_arm(args):
    """The Trainer's input pipeline alone (augmentation + batching), one batch per step."""
    trainer, it = _trainer(args, "fp32")

    def run(steps: int) -> None:
        for _ in range(steps):
            x, _ = next(it)
        float(x[0, 0, 0, 0])

    run(1)
    return run


def _fused_ce(ignore: int):
    """edgeseg's ``ce`` loss with the per-pixel term from TensorFlow's fused
    SparseSoftmaxCrossEntropyWithLogits kernel instead of :func:`edgeseg.train.losses.pixel_ce`."""
    from edgeseg._keras import tf
    from edgeseg.train import losses

    def loss(labels, logits):
        y, valid, z = losses._prepare(labels, logits, ignore)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z)
        return tf.math.divide_no_nan(tf.reduce_sum(ce * valid), tf.reduce_sum(valid))

    return loss


def _loss_arm(args, fused: bool = False):
    """The ce loss and its gradient on float32 logits of the model's output size (equal in both
    precisions): edgeseg's (``logsumexp - picked logit``), or with the fused kernel (:func:`_fused_ce`)."""
    import numpy as np

    from edgeseg._keras import tf
    from edgeseg.train.losses import make_loss

    loss_fn = _fused_ce(args.classes) if fused else make_loss("ce", args.classes)
    rng = np.random.default_rng(0)
    z = tf.Variable(rng.normal(size=(args.batch, *args.size, args.classes)).astype(np.float32))
    y = tf.constant(rng.integers(0, args.classes + 1, size=(args.batch, *args.size)).astype(np.uint8))

    @tf.function
    def multi(n: tf.Tensor) -> tf.Tensor:
        total = tf.zeros([])
        for _ in tf.range(n):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, z * 1.0)
            total += loss + tf.reduce_sum(tape.gradient(loss, z)[:1, :1]) * 0.0
        return total

    def run(steps: int) -> None:
        float(multi(tf.constant(steps)))

    run(1)
    return run


def _arm(args, name: str):
    if name.startswith("loop-"):
        return _loop_arm(args, name.split("-")[1])
    if name == "pipe":
        return _pipe_arm(args)
    if name in ("loss", "loss-fused"):
        return _loss_arm(args, fused=name == "loss-fused")
    parts = name.split("-")
    kind = parts[0]
    ema = name.endswith("-ema")
    if kind == "adam":
        return _step_fn(args, "adam", "fp32", ema=ema)
    variant = "-".join(p for p in parts[1:] if p != "ema")
    return _step_fn(args, kind, variant, ema=ema)


def _part(op_name: str) -> str:
    """forward / backward (under ``gradient_tape/``) / optimizer (under the optimizer's name scope)."""
    parts = op_name.split("/")
    if any(p.startswith("gradient_tape") for p in parts):
        return "backward"
    if any(p in ("Adam", "SGD", "AdamW") or p.startswith(("Adam_", "SGD_")) for p in parts):
        return "optimizer"
    return "forward"


def _layer(op_name: str, part: str) -> str:
    """The model layer an op belongs to (``stem_conv``), the loss, or the optimizer."""
    if part == "optimizer":
        return "(optimizer)"
    names = op_name.rsplit(":", 1)[0].split("/")
    for i, n in enumerate(names[:-1]):
        if n == MODEL_SCOPE[0]:
            return names[i + 1]
    return "(loss and step)"


MODEL_SCOPE = ["linknet"]


def _profile(run, steps: int, logdir: str) -> dict:
    """Per op type and per part: ms per step, from a tf.profiler trace of ``steps`` steps."""
    from edgeseg._keras import tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    run(1)
    tf.profiler.experimental.start(logdir)
    t = time.perf_counter()
    run(steps)
    wall = (time.perf_counter() - t) / steps
    tf.profiler.experimental.stop()
    path = sorted(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True), key=os.path.getmtime)[-1]
    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(path).read_bytes())
    by_type: dict[str, float] = defaultdict(float)
    by_part: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    examples: dict[str, list[str]] = defaultdict(list)
    by_layer: dict[str, float] = defaultdict(float)
    by_layer_op: dict[str, float] = defaultdict(float)
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute") and not line.name.startswith("tf_inter"):
                continue
            for ev in line.events:
                md = plane.event_metadata[ev.metadata_id]
                op_type = md.display_name
                if not op_type or ":" not in md.name:
                    continue
                ms = ev.duration_ps / 1e9
                by_type[op_type] += ms
                counts[op_type] += 1
                part = _part(md.name.rsplit(":", 1)[0])
                by_layer[_layer(md.name, part)] += ms
                by_layer_op[f"{_layer(md.name, part)} {'bwd' if part == 'backward' else 'fwd'} {op_type}"] += ms
                by_part[part] += ms
                if len(examples[part]) < 3:
                    examples[part].append(md.name)
    return {"step_ms": round(wall * 1e3, 1),
            "ops_ms_per_step": {k: round(v / steps, 2) for k, v in sorted(by_type.items(), key=lambda kv: -kv[1])},
            "op_count_per_step": {k: round(v / steps, 1) for k, v in counts.items()},
            "parts_ms_per_step": {k: round(v / steps, 1) for k, v in by_part.items()},
            "total_op_ms_per_step": round(sum(by_type.values()) / steps, 1), "example_ops": dict(examples),
            "layer_ops_ms_per_step": {k: round(v / steps, 2) for k, v in sorted(by_layer_op.items(),
                                                                                key=lambda kv: -kv[1])[:150]},
            "layers_ms_per_step": {k: round(v / steps, 2) for k, v in sorted(by_layer.items(), key=lambda kv: -kv[1])}}


def _group(op_type: str) -> str:
    """Op type -> a coarse group (oneDNN renames e.g. Conv2D to _MklNativeConv2D / _FusedConv2D)."""
    t = op_type.replace("_MklNative", "").replace("_Mkl", "").replace("_Fused", "Fused")
    for key, group in (("Conv2DBackpropInput", "conv backprop input (incl. transposed conv fwd)"),
                       ("Conv2DBackpropFilter", "conv backprop filter"),
                       ("FusedConv2D", "conv forward"), ("Conv2D", "conv forward"),
                       ("FusedBatchNormGrad", "batchnorm grad"), ("FusedBatchNorm", "batchnorm forward"),
                       ("Cast", "cast"), ("ReluGrad", "relu grad"), ("Relu", "relu"),
                       ("ResourceApplyAdam", "adam"), ("AddN", "add"), ("AddV2", "add"), ("Add", "add"),
                       ("Softmax", "loss"), ("SparseSoftmax", "loss"), ("BiasAddGrad", "bias grad"),
                       ("BiasAdd", "bias add"), ("AssignVariable", "variable assign"),
                       ("AssignAddVariable", "variable assign"), ("AssignSubVariable", "variable assign"),
                       ("ReadVariable", "variable read"), ("Mul", "elementwise mul/sub/sqrt/div"),
                       ("Sub", "elementwise mul/sub/sqrt/div"), ("Sqrt", "elementwise mul/sub/sqrt/div"),
                       ("RealDiv", "elementwise mul/sub/sqrt/div"), ("DivNoNan", "elementwise mul/sub/sqrt/div")):
        if key in t:
            return group
    return "other"


def _grouped(ops: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for k, v in ops.items():
        out[_group(k)] += v
    return {k: round(v, 1) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}


def _conv_error() -> float:
    """Relative error of a float32 Conv2D (and its filter gradient) against float64: shows whether
    oneDNN down-converts f32 convolutions to bf16 (fpmath mode)."""
    import numpy as np

    from edgeseg._keras import tf

    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 32, 32, 64))
    w = rng.normal(size=(3, 3, 64, 64))
    ref = tf.nn.conv2d(tf.constant(x), tf.constant(w), 1, "SAME").numpy()
    out = tf.nn.conv2d(tf.constant(x, tf.float32), tf.constant(w, tf.float32), 1, "SAME").numpy()
    return float(np.abs(out - ref).max() / np.abs(ref).max())


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _version(name: str):
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="linknet")
    p.add_argument("--options", default="base_width=32", help="k=v,k=v builder options")
    p.add_argument("--size", default="256x320")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--classes", type=int, default=11, help="classes (void = this index, as CamVid)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--profile-steps", type=int, default=4)
    p.add_argument("--profile-variants", default="fp32,bf16",
                   help="models to profile (fp32, bf16, bf16-tailfp32, bf16-bnfp32, bf16-allbf16); fp32 and bf16 are compared")
    p.add_argument("--no-profile", dest="profile", action="store_false")
    p.add_argument("--top-layers", type=int, default=25, help="layers to print from the profile")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--arms", default="full-fp32,full-bf16,grad-fp32,grad-bf16,fwd-fp32,fwd-bf16,adam,adam-ema")
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "camvid",
                   help="frames for the loop and pipe arms (default ../shared/camvid, else samples/camvid)")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    h, w = (int(s) for s in args.size.split("x"))
    args.size = (h, w)
    opts = {}
    for kv in filter(None, args.options.split(",")):
        k, v = kv.split("=")
        opts[k] = int(v) if v.lstrip("-").isdigit() else v
    args.options = opts
    MODEL_SCOPE[0] = args.model
    arms = [a for a in args.arms.split(",") if a]
    for a in arms:
        if a not in ARMS:
            p.error(f"unknown arm {a!r}; choose from {', '.join(ARMS)}")

    from edgeseg._keras import set_threads, tf

    set_threads(args.threads)
    result: dict = {"model": args.model, "options": opts, "input_size": list(args.size), "batch": args.batch,
                    "threads": args.threads, "loadavg_start": _loadavg(),
                    "machine": {"cpu": _cpu_name(), "cores": os.cpu_count(), "platform": platform.platform()},
                    "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                                 "tf_keras": _version("tf_keras")},
                    "env": {k: os.environ[k] for k in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_DEFAULT_FPMATH_MODE", "TF_SET_ONEDNN_FPMATH_MODE",
                                                        "OMP_NUM_THREADS") if k in os.environ},
                    "command": " ".join([".venv/bin/python", "benchmarks/bf16_profile.py", *sys.argv[1:]])}
    result["conv_rel_error_fp32"] = _conv_error()
    print(f"float32 conv relative error vs float64: {result['conv_rel_error_fp32']:.1e} (~1e-7: strict fp32; "
          "~1e-3: oneDNN computes it in bf16, e.g. ONEDNN_DEFAULT_FPMATH_MODE=BF16)", file=sys.stderr)
    if args.profile:
        runs = {v: _arm(args, f"full-{v}") for v in args.profile_variants.split(",")}
        profiles: dict[str, list[dict]] = {v: [] for v in runs}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(2):
                for v, run in runs.items():
                    profiles[v].append(_profile(run, args.profile_steps, f"{tmp}/{v}{r}"))
                    print(f"profile {v} round {r + 1}: step {profiles[v][-1]['step_ms']} ms, op time "
                          f"{profiles[v][-1]['total_op_ms_per_step']} ms", file=sys.stderr, flush=True)
        result["profile"] = profiles
        summary = {}
        for v, ps in profiles.items():
            types = {k for pr in ps for k in pr["ops_ms_per_step"]}
            ops = {k: statistics.mean(pr["ops_ms_per_step"].get(k, 0.0) for pr in ps) for k in types}
            parts = {k: round(statistics.mean(pr["parts_ms_per_step"].get(k, 0.0) for pr in ps), 1)
                     for k in ("forward", "backward", "optimizer")}
            names = {k for pr in ps for k in pr["layers_ms_per_step"]}
            layers = {k: round(statistics.mean(pr["layers_ms_per_step"].get(k, 0.0) for pr in ps), 1) for k in names}
            summary[v] = {"groups_ms": _grouped(ops), "parts_ms": parts,
                          "layers_ms": dict(sorted(layers.items(), key=lambda kv: -kv[1])),
                          "ops_ms": {k: round(x, 2) for k, x in sorted(ops.items(), key=lambda kv: -kv[1])},
                          "step_ms": round(statistics.mean(pr["step_ms"] for pr in ps), 1)}
        result["profile_summary"] = summary
        del runs
        groups = sorted(set(summary["fp32"]["groups_ms"]) | set(summary["bf16"]["groups_ms"]),
                        key=lambda g: -summary["fp32"]["groups_ms"].get(g, 0.0))
        print("\n| op group | fp32 ms/step | bf16 ms/step | bf16 / fp32 |\n|---|---:|---:|---:|")
        for g in groups:
            a, b = summary["fp32"]["groups_ms"].get(g, 0.0), summary["bf16"]["groups_ms"].get(g, 0.0)
            print(f"| {g} | {a:.1f} | {b:.1f} | {b / a:.2f} |" if a else f"| {g} | 0 | {b:.1f} | - |")
        for part in ("forward", "backward", "optimizer"):
            a, b = summary["fp32"]["parts_ms"][part], summary["bf16"]["parts_ms"][part]
            print(f"| part: {part} | {a:.1f} | {b:.1f} | {b / a:.2f} |" if a else f"| part: {part} | 0 | {b} | - |")
        print("\n| layer (fwd + bwd ops) | fp32 ms/step | bf16 ms/step | bf16 / fp32 |\n|---|---:|---:|---:|")
        for name in list(summary["fp32"]["layers_ms"])[:args.top_layers]:
            a, b = summary["fp32"]["layers_ms"][name], summary["bf16"]["layers_ms"].get(name, 0.0)
            print(f"| {name} | {a:.1f} | {b:.1f} | {b / a if a else float('nan'):.2f} |")
        print(f"| step (wall) | {summary['fp32']['step_ms']} | {summary['bf16']['step_ms']} | "
              f"{summary['bf16']['step_ms'] / summary['fp32']['step_ms']:.2f} |")
    if arms:
        runs = {a: _arm(args, a) for a in arms}
        speeds: dict[str, list[float]] = {a: [] for a in arms}
        cpu_ms: dict[str, list[float]] = {a: [] for a in arms}
        for r in range(args.rounds):
            for a, run in runs.items():
                run(args.warmup)
                t, c = time.perf_counter(), time.process_time()
                run(args.steps)
                speeds[a].append(args.steps * args.batch / (time.perf_counter() - t))
                cpu_ms[a].append(1e3 * (time.process_time() - c) / args.steps)
                print(f"round {r + 1}: {a} {speeds[a][-1]:.2f} images/s, {cpu_ms[a][-1]:.0f} CPU ms/step",
                      file=sys.stderr, flush=True)
        result["cpu_ms_per_step"] = {a: [round(x, 1) for x in v] for a, v in cpu_ms.items()}
        result["median_cpu_ms_per_step"] = {a: round(statistics.median(v), 1) for a, v in cpu_ms.items()}
        # per-round ratios against full-fp32 (same round: drift cancels)
        result["images_per_s"] = {a: [round(x, 3) for x in v] for a, v in speeds.items()}
        result["median_images_per_s"] = {a: round(statistics.median(v), 3) for a, v in speeds.items()}
        if "full-fp32" in speeds:
            result["ratio_to_full_fp32_per_round"] = {
                a: [round(x / b, 3) for x, b in zip(v, speeds["full-fp32"])] for a, v in speeds.items()}
        ms = {a: 1e3 * args.batch / statistics.median(v) for a, v in speeds.items()}
        result["median_ms_per_step"] = {a: round(v, 1) for a, v in ms.items()}
        print("\n| arm | wall ms/step (median) | CPU ms/step (median) | images/s per round | "
              "speed / full-fp32 per round |\n|---|---:|---:|---|---|")
        for a in arms:
            rat = result.get("ratio_to_full_fp32_per_round", {}).get(a, [])
            print(f"| {a} | {ms[a]:.1f} | {result['median_cpu_ms_per_step'][a]:.0f} | "
                  f"{', '.join(f'{x:.2f}' for x in speeds[a])} | {', '.join(f'{x:.2f}' for x in rat)} |")
    result["loadavg_end"] = _loadavg()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    raise SystemExit(main())
