"""Run MediaPipe's ImageSegmenter on one image; write the category mask as .npy (runs in .venv-mediapipe).

Usage: python mediapipe_segment.py MODEL.tflite IMAGE OUT.npy
Prints one JSON line: {"ok": true, "shape": [...], "labels": [...]} or {"ok": false, "error": "..."}.
Imports only mediapipe, numpy and Pillow: it runs in its own virtualenv, apart from edgeseg's.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    """Segment ``argv[1]`` (an image already at the model's size) with model ``argv[0]``."""
    import numpy as np
    from PIL import Image

    model, image_path, out = argv
    try:
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python.vision import image_segmenter as iseg
        from mediapipe.tasks.python.vision.core.image import Image as MPImage, ImageFormat

        options = iseg.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=model),
                                             output_category_mask=True, output_confidence_masks=False)
        rgb = np.ascontiguousarray(np.asarray(Image.open(image_path).convert("RGB")))
        with iseg.ImageSegmenter.create_from_options(options) as seg:
            labels = list(seg.labels)
            result = seg.segment(MPImage(image_format=ImageFormat.SRGB, data=rgb))
            mask = np.array(result.category_mask.numpy_view(), copy=True)
    except Exception as exc:  # report MediaPipe's rejection as data, not a traceback
        print(json.dumps({"ok": False, "error": " ".join(str(exc).split())[:500]}))
        return 1
    np.save(out, mask.reshape(mask.shape[:2]))
    print(json.dumps({"ok": True, "shape": list(mask.shape), "labels": labels}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
