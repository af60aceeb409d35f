"""``classroom settings``: every setting with its variable, type, default, current value
and description, and docs/settings.md, the reference generated from the same fields.

The descriptions live on the fields of ``schemas.settings``; this module only walks them,
so the printed list, the doc and the code cannot disagree. Secrets are masked.
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import click
from pydantic import BaseModel, SecretStr
from pydantic_core import to_jsonable_python

from schemas.settings import Settings, load_settings, secret_file_variable, secret_paths

DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"
MASK = "**********"


@dataclass(frozen=True)
class Setting:
    """One leaf field of ``Settings``, as the user sets it."""

    section: str
    variable: str
    type: str
    default: str
    current: str
    description: str


def type_name(annotation: Any) -> str:
    """``on | off`` for a Literal, ``float | None``, ``dict[str, FrontCone]``: as a user
    reads a type, without ``typing.`` and the ids' patterns."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is type(None):
        return "None"
    if origin is Literal:
        return " | ".join(str(arg) for arg in args)
    if origin is Annotated:
        return type_name(args[0])
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in args)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(type_name(arg) for arg in args)}]"
    return annotation.__name__


def shown(value: Any) -> str:
    """A value as it would be written in the environment; a secret as ``MASK``."""
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else '""'
    if isinstance(value, str | Path):
        return str(value) or '""'
    return json.dumps(to_jsonable_python(value))


def settings_list(current: Settings) -> list[Setting]:
    """Every leaf setting, section by section, in the order of ``schemas/settings.py``."""
    secrets = set(secret_paths(Settings))
    found = []
    for section_name, section in Settings.model_fields.items():
        section_model = section.annotation
        assert isinstance(section_model, type) and issubclass(section_model, BaseModel)
        for name, field in section_model.model_fields.items():
            path = (section_name, name)
            description = field.description or ""
            if path in secrets:
                description += (
                    f"; secret, also read from the file named by {secret_file_variable(path)}"
                )
            found.append(
                Setting(
                    section=section_name,
                    variable=f"CLASSROOM_{section_name.upper()}__{name.upper()}",
                    type=type_name(field.annotation),
                    default=shown(field.get_default(call_default_factory=True)),
                    current=shown(getattr(getattr(current, section_name), name)),
                    description=description,
                )
            )
    return found


def as_text(settings: list[Setting]) -> str:
    """One block per setting: ``VARIABLE = current``, then type, default and description."""
    return "\n".join(
        f"{s.variable} = {s.current}\n    {s.type}, default {s.default}: {s.description}"
        for s in settings
    )


def as_markdown(settings: list[Setting], with_current: bool) -> str:
    """A table per section; ``with_current`` adds the current values (not in the doc, which
    must not depend on the environment it was generated in)."""
    columns = ["variable", "type", "default", *(["current"] * with_current), "description"]
    lines: list[str] = []
    for section in dict.fromkeys(s.section for s in settings):
        summary = Settings.model_fields[section].description or ""
        lines += ["", f"### {section}", "", " ".join(summary.split()), ""]
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for s in (s for s in settings if s.section == section):
            cells = [f"`{s.variable}`", f"`{s.type}`", f"`{s.default}`"]
            cells += [f"`{s.current}`"] * with_current + [s.description]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines[1:])


def with_reference(doc: str) -> str:
    """``doc`` with the settings reference (defaults, no current values) between the
    markers; ``ValueError`` if they are missing."""
    begin, end = doc.find(BEGIN), doc.find(END)
    if begin < 0 or end < begin:
        raise ValueError(f"the doc has no {BEGIN} ... {END} block")
    defaults = Settings.model_construct()  # not this environment's values
    reference = as_markdown(settings_list(defaults), with_current=False)
    return doc[: begin + len(BEGIN)] + "\n" + reference + "\n" + doc[end:]


@click.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--doc",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Write the reference between the markers of this file ({DOC.name}) instead.",
)
@click.option("--check", is_flag=True, help="With --doc: fail if the file is not up to date.")
def settings(output_format: str, doc: Path | None, check: bool) -> None:
    """Print every setting: its variable, type, default, current value (secrets masked)
    and what it does. Set one as CLASSROOM_<SECTION>__<FIELD>, or in the file named by
    CLASSROOM_CONFIG."""
    if check and doc is None:
        raise click.UsageError("--check needs --doc")
    if doc is None:
        listed = settings_list(load_settings())
        text = as_text(listed) if output_format == "text" else as_markdown(listed, True)
        click.echo(text)
        return
    written = doc.read_text()
    wanted = with_reference(written)
    if check and written != wanted:
        raise click.ClickException(f"{doc} is out of date: run classroom settings --doc {doc}")
    if not check:
        doc.write_text(wanted)
