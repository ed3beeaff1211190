"""``convert_model``: the Python API behind ``edgeseg convert`` (plan, export each target, verify, manifest)."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence, Union

from edgeseg.core.dataset import FolderDataset
from edgeseg.core.fileio import sha256_file
from edgeseg.core.native_log import native_stderr
from edgeseg.core.manifest import Manifest, find_model_manifest, preprocessing_of, sidecar_path
from edgeseg.core.preprocess import normalise
from edgeseg.core.spec import Spec, parse_size
from edgeseg.data.calibration import NO_CALIBRATION_HELP, CalibrationSet, calibration_set, verification_set
from edgeseg.errors import ExportError, UsageError
from edgeseg.export.base import CALIB_METHODS, HEADS, IO_TYPES, ExportContext, Exporter
from edgeseg.export.graph import ExportGraph, build_graph
from edgeseg.export.head import is_pixel_spec, pixel_spec
from edgeseg.export.model_spec import SpecOptions, resolve_spec
from edgeseg.export.registry import get_exporter
from edgeseg.export.sources import ModelSource, open_source, source_sha256
from edgeseg.export.verify import skipped, smoke_run, verify_artifacts

log = logging.getLogger(__name__)

VERIFY_IMAGES = 50


@dataclass
class ConversionPlan:
    """A loaded, checked model and everything decided before the first artifact is written."""

    model_path: Path
    source: ModelSource
    graph: ExportGraph
    exporters: list[Exporter]
    ctx: ExportContext
    manifest: Manifest | None
    calibration: CalibrationSet | None
    verification: CalibrationSet | None
    #: Pixels mode: the model's own spec, whose normalisation the graph now does (``ctx.spec`` is its
    #: :func:`~edgeseg.export.head.pixel_spec`); ``None`` otherwise.
    graph_normalisation: Spec | None = None
    #: The graph without pixels-mode normalisation: the parity reference (fed :attr:`keras_input` frames).
    reference: ExportGraph | None = None
    #: Lines saying what was assumed (classes, normalisation) for a model without a manifest.
    notes: list[str] = field(default_factory=list)
    #: Where the spec came from (recorded in the manifests as ``spec_source``).
    spec_record: dict[str, Any] = field(default_factory=dict)
    #: ``--all``: a target the model cannot be converted to is skipped (listed), not a failure.
    all_targets: bool = False
    #: Targets not written: ``{"target", "status": "skipped"|"failed", "reason"}`` (filled by :func:`run_plan`).
    outcomes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def model(self) -> Any:
        """The loaded Keras model (tf_keras or Keras 3; ``None`` for a SavedModel)."""
        return self.source.model

    @property
    def prepared(self) -> ExportGraph:
        """The export graph (kept under its old name)."""
        return self.graph

    @property
    def keras_input(self) -> Callable[[Any], Any] | None:
        """Maps artifact frames to the reference's input (pixels mode: normalise as in training)."""
        own = self.graph_normalisation
        return (lambda x: normalise(x, own)) if own is not None else None


def _base_spec(manifest: Manifest | None, spec: Spec | None) -> Spec | None:
    return spec or (manifest.spec if manifest is not None else None)


def _input_size(source: ModelSource, manifest: Manifest | None, spec: Spec, input_size: Any) -> tuple[int, int]:
    if input_size is not None:
        return parse_size(input_size) if isinstance(input_size, str) else tuple(input_size)  # type: ignore[return-value]
    own = source.static_size
    if own is not None:
        return own
    if manifest is not None:
        return tuple(spec.input_size)  # type: ignore[return-value]
    raise UsageError("the model has a dynamic input shape and no manifest; give --input-size HxW")


def check_options(*, calib_count: int, io: str = "float", head: str = "logits", calib_method: str = "minmax") -> None:
    """The option checks of :func:`plan_conversion`, made before anything loads (the CLI's preflight runs
    them before TensorFlow too); :class:`UsageError` naming the flag."""
    if io not in IO_TYPES:
        raise UsageError(f"--io must be one of {', '.join(IO_TYPES)}, got {io!r}")
    if head not in HEADS:
        raise UsageError(f"--head must be one of {', '.join(HEADS)}, got {head!r}")
    if calib_method not in CALIB_METHODS:
        raise UsageError(f"--calib-method must be one of {', '.join(CALIB_METHODS)}, got {calib_method!r}")
    if calib_count < 1:
        raise UsageError(f"--calib-count must be >= 1, got {calib_count}")


def calibration_for(exporters: Sequence[Exporter], calib: Any, manifest: Manifest | None, spec: Spec,
                    size: tuple[int, int], count: int, *, channels: int = 3) -> CalibrationSet | None:
    """The calibration frames of a conversion: ``calib``, else the manifest's dataset. Required when an
    exporter needs calibration (:class:`ExportError` naming those targets if none are found); otherwise
    opened only when ``calib`` is given."""
    needs = [e.name for e in exporters if e.needs_calibration]
    if not needs and calib is None:
        return None
    calibration = calibration_set(calib, manifest, spec, size, count, channels=channels)
    if needs and calibration is None:
        raise ExportError(f"{', '.join(needs)} needs calibration images and none were found: {NO_CALIBRATION_HELP}")
    return calibration


def plan_conversion(model_path: str | os.PathLike[str], targets: list[str], *, calib: Any = None,
                    calib_count: int = 200, calib_method: str = "minmax", input_size: Any = None,
                    io: str = "float", head: str = "logits", verify_data: Any = None, spec: Spec | None = None,
                    trust_model: bool = False, verify_count: int = VERIFY_IMAGES,
                    pixels: bool = False, spec_options: SpecOptions | None = None,
                    all_targets: bool = False) -> ConversionPlan:
    """Validate options, load the model safely, resolve spec/size/calibration; nothing is written yet.

    The model is any source :func:`~edgeseg.export.sources.open_source` takes (tf_keras or Keras 3 ``.h5``,
    ``.keras``, a SavedModel folder). ``pixels`` (implied by ``io="uint8"``) exports graphs that take raw RGB
    pixels 0..255 and normalise inside; their manifests carry the pixel spec. ``spec_options`` (``--classes``,
    ``--labels``, ``--normalize``, ``--mean/--std``) name classes and preprocessing of models without a
    manifest (:func:`~edgeseg.export.model_spec.resolve_spec`).
    """
    if not targets:
        raise UsageError("no export target given (e.g. --fp32, --int8, --onnx or --all)")
    check_options(calib_count=calib_count, io=io, head=head, calib_method=calib_method)
    exporters = [get_exporter(t) for t in dict.fromkeys(targets)]
    path = Path(model_path)
    source = open_source(path, trust_model=trust_model)  # sniffs + refuses code before Keras loads
    manifest = find_model_manifest(path)
    the_spec, notes, record = resolve_spec(source, _base_spec(manifest, spec), spec_options or SpecOptions())
    for line in notes:
        log.info("%s", line)
    size = _input_size(source, manifest, the_spec, input_size)
    if manifest is None or spec_options is not None and spec_options.any_given():
        the_spec = the_spec.with_(input_size=size)
    in_graph = the_spec if (pixels or io == "uint8") and not is_pixel_spec(the_spec) else None
    model_spec, the_spec = the_spec, (pixel_spec(the_spec) if in_graph is not None else the_spec)
    channels = source.channels
    calibration = calibration_for(exporters, calib, manifest, the_spec, size, calib_count, channels=channels)
    verification = verification_set(verify_data, manifest, the_spec, size, calibration, verify_count,
                                    channels=channels)
    if verification is not None and verify_data is None and manifest is None and spec is None:
        verification.use_masks = False  # calibration frames' masks need not match classes named by flags
    graph = build_graph(source, size, head, normalise=in_graph)
    reference = build_graph(source, size, head) if in_graph is not None else graph
    log.info("model %s (%s); spec %s; graph input: %s", source.name, source.kind, model_spec.name,
             "raw pixels" if in_graph else "normalised")
    ctx = ExportContext(spec=the_spec, input_size=size, io=io, head=head,
                        calibration=(lambda: iter(calibration)) if calibration is not None else None,
                        calib_count=len(calibration) if calibration is not None else 0, calib_method=calib_method)
    return ConversionPlan(path, source, graph, exporters, ctx, manifest, calibration, verification, in_graph,
                          reference=reference, notes=notes, spec_record=record, all_targets=all_targets)


def output_paths(model_path: str | os.PathLike[str], targets: list[str],
                 out_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The files a conversion writes: each target's artifact and its sidecar manifest."""
    out = Path(out_dir) if out_dir is not None else Path(model_path).parent
    files = [out / get_exporter(t).filename(Path(model_path).stem) for t in dict.fromkeys(targets)]
    return [f for a in files for f in (a, sidecar_path(a))]


def refuse_overwrite(paths: list[Path]) -> None:
    """:class:`ExportError` (one line) if any of ``paths`` exists: converting never replaces files silently."""
    there = [p for p in paths if p.exists()]
    if there:
        more = f" (and {len(there) - 1} more)" if len(there) > 1 else ""
        raise ExportError(f"{there[0]} exists{more}; give --force to replace it, or --out DIR to write elsewhere")


def run_plan(plan: ConversionPlan, out_dir: str | os.PathLike[str] | None = None, *, threads: int | None = None,
             on_step: Callable[[str], None] | None = None, force: bool = False) -> list[dict[str, Any]]:
    """Export every target, verify them together, write each sidecar manifest; one result dict each.

    Refuses (before writing anything) to replace an existing artifact or manifest unless ``force``.
    """
    from edgeseg import runtime

    out = Path(out_dir) if out_dir is not None else plan.model_path.parent
    stem = plan.model_path.stem
    if not force:
        refuse_overwrite(output_paths(plan.model_path, [e.name for e in plan.exporters], out))
    written = []
    for fmt in dict.fromkeys(e.format for e in plan.exporters):  # before the first file a Ctrl-C may cut
        runtime.preload(fmt)
    with tempfile.TemporaryDirectory(prefix="edgeseg-export-") as work:
        ctx = replace(plan.ctx, work_dir=Path(work))
        for exporter in plan.exporters:
            if on_step:
                on_step(f"exporting {exporter.name}")
            try:
                with native_stderr(f"export {exporter.name}"):  # converter/tf2onnx C++ logs: -v only
                    info = exporter.export(plan.graph, out / exporter.filename(stem), ctx)
                    # a replaced file's old manifest goes now: an interrupted --force run must not leave
                    # the new file beside a manifest (sha256, parity) that describes the one it replaced
                    sidecar_path(info.path).unlink(missing_ok=True)
                    smoke_run(info.path, plan.graph.channels)
            except ExportError as exc:  # one target that cannot be built does not stop the others
                status = "skipped" if plan.all_targets else "failed"
                plan.outcomes.append({"target": exporter.name, "status": status, "reason": str(exc)})
                log.info("%s %s: %s", status, exporter.name, exc)
                continue
            written.append((exporter, info))
    if plan.verification is not None and written:
        if on_step:
            on_step(f"verifying on {len(plan.verification)} images")
        # pixels mode: the reference gets the frames normalised as in training
        with native_stderr("verification"):  # grappler's remapper notices of the traced reference: -v only
            parity = verify_artifacts(plan.reference or plan.graph, [(i.path, e) for e, i in written],
                                      plan.verification.pairs(), plan.ctx.spec,
                                      with_labels=plan.verification.has_masks, threads=threads,
                                      source=plan.verification.source, keras_input=plan.keras_input)
    else:
        parity = [skipped("no verification images (give --verify-data or --calib-data)")] * len(written)
    source = {"path": str(plan.model_path), "sha256": source_sha256(plan.model_path), "kind": plan.source.kind,
              "spec": (plan.graph_normalisation or plan.ctx.spec).to_dict()}  # what the source itself takes
    results = []
    for (exporter, info), par in zip(written, parity):
        d = info.to_dict()
        d.update(target=exporter.name, io=info.quantization.get("io", "float"), head=plan.ctx.head, parity=par)
        _write_sidecar(plan, exporter, d, source)
        d["manifest"] = str(sidecar_path(info.path))
        results.append(d)
    return results


def _write_sidecar(plan: ConversionPlan, exporter: Exporter, d: dict[str, Any], source: dict[str, Any]) -> None:
    artifact = {k: d[k] for k in ("format", "precision", "io", "head", "input", "output", "ops", "size_bytes")}
    artifact["sha256"] = sha256_file(d["path"])
    artifact["target"] = exporter.name
    artifact["channels"] = plan.graph.channels
    m = Manifest(plan.ctx.spec, artifact=artifact, quantization=d["quantization"], parity=d["parity"],
                 source=source)
    if plan.spec_record:
        m["spec_source"] = plan.spec_record
    if plan.graph_normalisation is not None:
        own = plan.graph_normalisation
        m["preprocessing"] = {**preprocessing_of(plan.ctx.spec), "normalisation": "in graph",
                              "graph_mean": list(own.mean), "graph_std": list(own.std),
                              "graph_channel_order": own.channel_order}
    if plan.calibration is not None and exporter.needs_calibration:
        m["quantization"] = {**d["quantization"], "calibration": plan.calibration.describe()}
    if plan.manifest is not None:
        for key in ("model", "dataset", "training"):
            if plan.manifest.get(key) is not None:
                m[key] = plan.manifest.get(key)
    m.save(sidecar_path(d["path"]))


def failed(results: list[dict[str, Any]]) -> list[str]:
    """Paths of artifacts whose parity missed its expectation."""
    return [r["path"] for r in results if r["parity"].get("passed") is False]


DatasetArg = Union[str, "os.PathLike[str]", FolderDataset, None]


def convert_model(model_path: str | os.PathLike[str], targets: str | Sequence[str],
                  out_dir: str | os.PathLike[str] | None = None, *, calib: DatasetArg = None,
                  calib_count: int = 200, calib_method: str = "minmax",
                  input_size: str | tuple[int, int] | None = None, io: str = "float", head: str = "logits",
                  verify_data: DatasetArg = None,
                  strict: bool = False, trust_model: bool = False, spec: Spec | None = None,
                  threads: int | None = None, pixels: bool = False, force: bool = False,
                  spec_options: SpecOptions | None = None, all_targets: bool = False) -> list[dict[str, Any]]:
    """Convert a Keras model to the given targets, verify each artifact and write its sidecar manifest.

    Args:
        model_path: A Keras 3 ``.keras``, a Keras 3 or tf_keras ``.h5`` or a SavedModel folder (sniffed and
            inspected before loading; Lambda layers and code from outside keras/keras_hub/edgeseg refused).
        targets: One target name or a list of them, from :data:`edgeseg.export.registry.EXPORTERS`: ``fp32``,
            ``fp16``, ``dynamic``, ``int8``, ``int16x8``, ``onnx``, ``onnx-fp16``, ``onnx-int8``.
        out_dir: Output folder (default: beside the model). Files are ``<stem><suffix>``.
        calib: Calibration dataset folder (or FolderDataset); default: the model manifest's dataset.
        calib_count: Calibration frames (spread evenly over the sorted dataset).
        calib_method: ONNX int8 calibration: ``minmax``, ``entropy`` or ``percentile``.
        input_size: ``"HxW"`` or ``(h, w)``; default: the model's static size, else the manifest's.
        io: I/O type of full-integer TFLite artifacts: ``float``, ``uint8`` or ``int8``.
        head: ``logits``, ``softmax`` or ``argmax`` (uint8 class map in the graph).
        verify_data: Dataset for parity (default: manifest's val split, else the calibration frames).
        strict: Raise :class:`ExportError` if an artifact misses its parity expectation.
        trust_model: Allow Lambda layers (runs the code stored in the file).
        spec: Override the spec (default: the model's manifest, else CamVid for 11-class models).
        threads: Engine threads during verification.
        pixels: Graphs take raw RGB pixels 0..255 and normalise inside (implied by ``io="uint8"``); the
            sidecar spec then has mean 0, std 1/255 and ``preprocessing`` records the in-graph mean/std.
        force: Replace existing artifacts/manifests; without it an existing one raises :class:`ExportError`
            before anything is written.
        spec_options: ``SpecOptions(classes=, labels=, normalize=, mean=, std=)`` for models without a manifest.
        all_targets: Targets the model cannot be converted to are skipped (logged) instead of raising
            :class:`ExportError` after the others are written.

    Returns:
        One dict per artifact: ``target, path, format, precision, size_bytes, input, output, ops,
        quantization, io, head, parity, manifest``.
    """
    targets = [targets] if isinstance(targets, str) else list(targets)  # "fp32" is one target, not 4 letters
    plan = plan_conversion(model_path, targets, calib=calib, calib_count=calib_count, calib_method=calib_method,
                           input_size=input_size, io=io, head=head, verify_data=verify_data, spec=spec,
                           trust_model=trust_model, pixels=pixels, spec_options=spec_options, all_targets=all_targets)
    results = run_plan(plan, out_dir, threads=threads, force=force)
    failures = [o for o in plan.outcomes if o["status"] == "failed"]
    if failures:
        raise ExportError("; ".join(f"{o['target']}: {o['reason']}" for o in failures))
    bad = failed(results)
    if strict and bad:
        raise ExportError(f"parity below expectation for {', '.join(Path(p).name for p in bad)}")
    return results
