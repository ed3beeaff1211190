"""Boundary losses on distance maps: Kervadec et al.'s boundary loss and Karimi & Salcudean's Hausdorff (DT) loss.

Distance maps are computed in the graph with repeated 3x3 max-pooling (dilation), so they are
chessboard distances truncated at ``reach`` pixels: exact for thin structures near a boundary, which is
where these losses act, and cheap enough to compute every step without a CPU distance transform.
"""

from __future__ import annotations

from edgeseg._keras import tf

#: Default truncation of the distance maps, in pixels of the training crop.
REACH = 16


def distance_to(mask: tf.Tensor, reach: int = REACH) -> tf.Tensor:
    """Chessboard distance from each pixel to the nearest pixel where ``mask`` is 1, capped at ``reach``.

    Args:
        mask: ``[B, H, W, C]`` float {0, 1}; each channel is its own set.
        reach: Distances beyond it (and every distance to an empty set) read ``reach``.
    """
    dist = tf.zeros_like(mask)
    reached = mask
    for _ in range(reach):
        dist += 1.0 - reached
        reached = tf.nn.max_pool2d(reached, 3, 1, "SAME")
    return dist


def _onehot(labels: tf.Tensor, logits: tf.Tensor, ignore: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``[B,H,W,C]`` one-hot ground truth (zero at void), ``[B,H,W,1]`` validity, float32 probabilities."""
    logits = tf.cast(logits, tf.float32)
    c = tf.shape(logits)[-1]
    y = tf.cast(labels, tf.int32)
    valid = tf.logical_and(tf.not_equal(y, ignore), tf.logical_and(y >= 0, y < c))
    g = tf.one_hot(tf.where(valid, y, 0), c, dtype=tf.float32) * tf.cast(valid, tf.float32)[..., None]
    return g, tf.cast(valid, tf.float32)[..., None], tf.nn.softmax(logits)


def signed_distance(g: tf.Tensor, reach: int = REACH) -> tf.Tensor:
    """``phi = d(x, G) - d(x, not G)``: positive outside each class region, negative inside, capped."""
    return distance_to(g, reach) - distance_to(1.0 - g, reach)


def boundary(ignore: int, reach: int = REACH) -> "tf.types.experimental.PolymorphicFunction":
    """Boundary loss (Kervadec et al. 2019): ``mean over valid pixels and classes of phi_c(x) s_c(x)``.

    ``s`` is the softmax and ``phi`` the signed distance map of the ground truth (see
    :func:`signed_distance`): probability outside a class region costs its distance, inside it earns it.
    Minimal when every region is predicted exactly; use it beside a region or CE loss (``ce+dice+0.1*boundary``).
    """

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        g, valid, p = _onehot(labels, logits, ignore)
        phi = signed_distance(g, reach)
        per_pixel = tf.reduce_mean(phi * p, axis=-1, keepdims=True)
        return tf.math.divide_no_nan(tf.reduce_sum(per_pixel * valid), tf.reduce_sum(valid))

    return loss


def hausdorff_dt(ignore: int, alpha: float = 2.0, reach: int = REACH):
    """Hausdorff distance loss, distance-transform form (Karimi & Salcudean 2019):
    ``mean over valid pixels and classes of (p - g)^2 (d_G^alpha + d_P^alpha)``.

    ``d_G`` is the distance to the ground-truth region's boundary and ``d_P`` to the predicted region's
    (prediction = ``p > 0.5``, no gradient through it); errors far from a boundary cost more.
    """

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        g, valid, p = _onehot(labels, logits, ignore)
        hard = tf.stop_gradient(tf.cast(p > 0.5, tf.float32))
        d_g = distance_to(g, reach) + distance_to(1.0 - g, reach)  # one of the two is 0 at every pixel
        d_p = distance_to(hard, reach) + distance_to(1.0 - hard, reach)
        err = tf.square(p - g) * (d_g ** alpha + d_p ** alpha)
        per_pixel = tf.reduce_mean(err, axis=-1, keepdims=True)
        return tf.math.divide_no_nan(tf.reduce_sum(per_pixel * valid), tf.reduce_sum(valid))

    return loss


__all__ = ["REACH", "distance_to", "signed_distance", "boundary", "hausdorff_dt"]
