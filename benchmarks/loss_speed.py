"""Cost of the loss and of the full-resolution head of a training step: plain TensorFlow ops against
edgeseg's XLA-compiled loss (``losses.compiled``) and folded upsampling head (``train.fold``).

Usage:
    .venv/bin/python benchmarks/loss_speed.py [--shape 8x256x320] [--classes 11] [--reps 15] [--rounds 3]
        [--out FILE.json]

Arms (value + gradient, alternating, ``--rounds`` each; wall and process CPU ms per call):
- ``ce-plain`` / ``ce-xla``, ``combo-plain`` / ``combo-xla``: the loss on float32 logits of ``--shape``
  and ``--classes`` (void = the class count, as CamVid), gradient with respect to the logits;
- ``head-plain-P`` / ``head-folded-P`` (P = float32, bfloat16: the precision of the head's input, as in
  an fp32 or a bf16 training copy): LinkNet's head on 16-channel half-resolution features, a 2x2/2
  transposed conv (computing in P) and a float32 1x1 classifier, against :class:`FoldedUpsamplingHead`,
  each followed by the XLA-compiled ce, gradients for the input and the four variables.
Prints a table, writes JSON with the machine, versions and command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _per_call import alternate, per_call, table, write

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="8x256x320", help="BxHxW of the logits")
    p.add_argument("--classes", type=int, default=11)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    import numpy as np

    from edgeseg._keras import keras, tf
    from edgeseg.train.fold import FoldedUpsamplingHead
    from edgeseg.train.losses import compiled, make_loss

    b, h, w = (int(v) for v in args.shape.lower().split("x"))
    c = args.classes
    rng = np.random.default_rng(0)
    labels = tf.constant(rng.integers(0, c + 1, size=(b, h, w)).astype(np.uint8))
    logits = tf.constant(rng.normal(size=(b, h, w, c)).astype(np.float32))

    def loss_arm(fn):
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                tape.watch(logits)
                value = fn(labels, logits)
            return tape.gradient(value, logits)
        return step

    arms = {}
    for name in ("ce", "combo"):
        plain = make_loss(name, c)
        arms[f"{name}-plain"], arms[f"{name}-xla"] = loss_arm(plain), loss_arm(compiled(plain, c))
    ce = compiled(make_loss("ce", c), c)
    for dtype in ("float32", "bfloat16"):
        policy = "float32" if dtype == "float32" else "mixed_bfloat16"
        up = keras.layers.Conv2DTranspose(c, 2, strides=2, padding="same", dtype=policy, name="up")
        cls = keras.layers.Conv2D(c, 1, dtype="float32", name="classifier")
        x = tf.constant(rng.normal(size=(b, h // 2, w // 2, 16)), dtype)
        cls(up(x))  # build
        folded = FoldedUpsamplingHead(up, cls)
        variables = up.trainable_variables + cls.trainable_variables

        def head_arm(forward, x=x, variables=variables):
            @tf.function
            def step():
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    value = ce(labels, forward(x))
                return tape.gradient(value, [x, *variables])
            return step

        arms[f"head-plain-{dtype}"] = head_arm(lambda t, up=up, cls=cls: cls(up(t)))
        arms[f"head-folded-{dtype}"] = head_arm(folded)
    for fn in arms.values():
        fn()
    runs = alternate({name: lambda fn=fn: per_call(fn, args.reps, warmup=2) for name, fn in arms.items()}, args.rounds)
    print(f"value + gradient, logits {b}x{h}x{w}x{c}\n\n{table(runs)}")
    if args.out:
        write(args.out, runs, logits=[b, h, w, c])
    return 0


if __name__ == "__main__":
    sys.exit(main())
