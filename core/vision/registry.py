"""The one registry of vision models and detectors, in the style of timm's ``_registry``.

A model registers where it is defined, by decorating its builder (a function or class)::

    @register_model("expression", tags=("fer2013",))
    def mini_xception(tag: str) -> nn.Module: ...

and is built by name: ``create_model("expression", "mini_xception.fer2013")``. As in timm,
a name is ``arch.tag`` where weights are a choice apart from the architecture: the tag
names the weights (``fer2013``: trained on FER2013), and a bare ``arch`` means its first
tag, so a setting that names only the architecture keeps working. Models whose weights are
part of them (detectors, dlib's face descriptor) have no tag, and the architectures we
train ourselves (``trainable``) are built untrained for ``classroom model train``; their
checkpoint files are named by path, and one whose weights trained here ship in the
repository also has a tag for them (``vgg_narrow.fer2013``).

Kinds, each picked by one setting: ``detector`` (``vision.detector``), ``expression``
(``vision.expression_model``), ``eye_state`` (``vision.eye_state_model``) and ``identity``
(``vision.identity_model``).

The registry imports the modules that define a kind's models (``SOURCES``) on the first
lookup or listing of that kind, and an optional plug-in (``PLUGINS``) only when a name with
its prefix is asked for: the deepface backend, and so deepface itself, is never imported
unless a setting names one of its models. Both are imported by module name at call time,
so the model modules import this one without an import circle.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal, TypeVar

Kind = Literal["detector", "expression", "eye_state", "identity"]

SOURCES: dict[Kind, tuple[str, ...]] = {
    "detector": ("core.vision.detectors",),
    "expression": ("core.vision.expression", "core.vision.training.models"),
    "eye_state": ("core.vision.eyestate",),
    "identity": ("core.vision.identity",),
}
"""Kind -> the modules whose models register when they are imported."""


@dataclass(frozen=True)
class Plugin:
    module: str
    kinds: tuple[Kind, ...]
    """The kinds it adds models to."""


PLUGINS: dict[str, Plugin] = {
    # pip extra "deepface", docs/deepface.md
    "deepface": Plugin("core.vision.deepface_backend", ("detector", "expression", "identity")),
}
"""Name prefix -> the optional module that registers the models named ``<prefix>_*``."""

Builder = TypeVar("Builder", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry:
    arch: str
    build: Callable[..., Any]
    tags: tuple[str, ...]
    """Named weights, the default first; the builder then takes a ``tag`` keyword."""
    trainable: bool
    """An architecture ``classroom model train`` trains: called without a tag, the builder
    makes an untrained network (``create_model(..., pretrained=False)``). It may also ship
    weights trained here, under ``tags``."""

    def names(self, *, trainable: bool = False) -> list[str]:
        """The names ``create_model`` builds with weights: ``arch.tag`` each, or ``arch``
        for a model whose weights are part of it; if ``trainable``, the architecture it
        builds untrained."""
        if trainable:
            return [self.arch] if self.trainable else []
        if self.tags:
            return [f"{self.arch}.{tag}" for tag in self.tags]
        return [] if self.trainable else [self.arch]


REGISTRY: dict[Kind, dict[str, Entry]] = {kind: {} for kind in SOURCES}
"""Kind -> architecture name -> entry."""


def register_model(
    kind: Kind, *, name: str | None = None, tags: Sequence[str] = (), trainable: bool = False
) -> Callable[[Builder], Builder]:
    """Decorator that registers a builder as the ``kind`` model ``name`` (default: the
    builder's own name), with the weights ``tags`` it ships (the default first), as a
    ``trainable`` architecture, or both (an architecture we train that ships weights)."""

    def register(builder: Builder) -> Builder:
        arch = name or builder.__name__
        if "." in arch or arch in REGISTRY[kind]:
            raise ValueError(f"cannot register {kind} model {arch!r}: dotted or taken")
        REGISTRY[kind][arch] = Entry(arch, builder, tuple(tags), trainable)
        return builder

    return register


def split_model_name_tag(name: str) -> tuple[str, str | None]:
    """``"arch.tag"`` -> ``("arch", "tag")``; ``"arch"`` -> ``("arch", None)``."""
    arch, _, tag = name.partition(".")
    return arch, tag or None


def full_name(kind: Kind, name: str) -> str:
    """``name`` as ``arch.tag``: a bare ``arch`` that ships weights gets its default tag."""
    arch, tag = split_model_name_tag(name)
    tags = lookup(kind, arch).tags
    return f"{arch}.{tag or tags[0]}" if tags else name


def list_models(
    kind: Kind | None = None, pattern: str | None = None, *, trainable: bool = False
) -> list[str]:
    """Sorted names of the models of ``kind`` (default: every kind) that match the
    shell-style ``pattern``: those ``create_model`` builds with weights or, if
    ``trainable``, the architectures it builds untrained. Plug-ins count once loaded."""
    names = [
        name
        for each in ([kind] if kind else list(SOURCES))
        for entry in entries(each).values()
        for name in entry.names(trainable=trainable)
    ]
    return sorted(name for name in names if pattern is None or fnmatchcase(name, pattern))


def create_model(kind: Kind, name: str, *args: Any, pretrained: bool = True, **kwargs: Any) -> Any:
    """The ``kind`` model called ``name`` (``arch`` or ``arch.tag``), built with ``args``
    and ``kwargs``: with its weights, or untrained if not ``pretrained`` (the trainable
    architectures, which have no weights of their own)."""
    arch, tag = split_model_name_tag(name)
    entry = lookup(kind, arch)
    if tag is not None and tag not in entry.tags:
        raise unknown(kind, name)
    if entry.trainable and pretrained and not entry.tags:
        raise ValueError(
            f"{kind} model {arch!r} is an architecture without weights: train it "
            "(classroom model train) and name its checkpoint file instead"
        )
    if not entry.trainable and not pretrained:
        raise ValueError(f"{kind} model {arch!r} comes with its weights: it is not trained here")
    if entry.tags and pretrained:
        return entry.build(*args, tag=tag or entry.tags[0], **kwargs)
    return entry.build(*args, **kwargs)


def lookup(kind: Kind, arch: str) -> Entry:
    """The entry of ``arch``, after importing the plug-in that its prefix names, if any."""
    known = entries(kind)
    plugin = PLUGINS.get(arch.partition("_")[0])
    if arch not in known and plugin is not None and kind in plugin.kinds:
        importlib.import_module(plugin.module)
    if arch not in known:
        raise unknown(kind, arch)
    return known[arch]


def entries(kind: Kind) -> dict[str, Entry]:
    """The registered entries of ``kind``, its built-in modules imported first."""
    if kind not in SOURCES:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(SOURCES)}")
    for module in SOURCES[kind]:
        importlib.import_module(module)
    return REGISTRY[kind]


def unknown(kind: Kind, name: str) -> ValueError:
    """The error for a name no model of ``kind`` has: it lists those that exist."""
    known = list_models(kind) + list_models(kind, trainable=True)
    known += [f"{prefix}_* (plug-in)" for prefix, p in PLUGINS.items() if kind in p.kinds]
    return ValueError(f"unknown {kind.replace('_', '-')} model {name!r}; known: {', '.join(known)}")
