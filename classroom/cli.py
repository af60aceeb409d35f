"""The ``classroom`` command. Each subcommand lives with the code it runs and is imported
only when called, so ``classroom sql`` does not pay for loading torch.

Two things hold for every subcommand, and live here so that none can miss them: an error
is one line on standard error (what failed and why; the traceback only with
``CLASSROOM_DEBUG=1``) and a non-zero exit code, and ``--help`` ends with a real example.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import click
import pydantic

SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (module, click command attribute, one-line help shown by --help)
    "analyze": (
        "classroom.analyze",
        "analyze",
        "Analyse a lesson video or camera on this machine.",
    ),
    "report": (
        "classroom.report_cli",
        "report",
        "Rebuild the HTML report of a stored lesson from the warehouse.",
    ),
    "faces": ("classroom.vision_cli", "faces", "Print the faces found in images or videos."),
    "model": ("classroom.vision_cli", "model", "Evaluate (and train) expression models."),
    "roster": (
        "classroom.roster_cli",
        "roster",
        "Import a class roster into the warehouse; enroll faces.",
    ),
    "camera": ("workers.camera", "camera", "Camera agent: publish sampled frames to Kafka."),
    "infer": ("workers.infer", "infer", "Inference worker: frames to face events."),
    "streams": ("streams.app", "streams", "Faust worker: face events to windows and alerts."),
    "sink": ("workers.sink", "sink", "ClickHouse sink: topics to warehouse tables."),
    "db": ("classroom.db_cli", "db", "Warehouse migrations and status."),
    "sql": ("classroom.db_cli", "sql", "Run SQL against the warehouse."),
    "schemas": ("classroom.db_cli", "schemas", "Export the event JSON Schemas."),
    "dashboards": ("dashboards.cli", "dashboards", "Generate and push Grafana dashboards."),
    "settings": (
        "classroom.settings_cli",
        "settings",
        "Print every setting: variable, default, current value, what it does.",
    ),
}

VIDEO = "../shared/data/video/classroom.mp4"
EXAMPLES: dict[str, tuple[str, ...]] = {
    # command path: examples that run as written from the repository root (given the
    # user's own files: roster.yaml, photos)
    "analyze": (
        f"classroom analyze {VIDEO} --data-dir lesson-data",
        f"classroom analyze {VIDEO} --emotion off --sample-fps 5",
    ),
    "report": ("classroom report e2e-classroom --data-dir lesson-data --out lesson.html",),
    "faces": (
        "classroom faces ../shared/data/faces/lecture_hall.jpg",
        f"classroom faces {VIDEO} --every 25 --limit 5",
        f"classroom faces {VIDEO} --summary",
    ),
    "model": ("classroom model eval ../shared/data/fer2013/PublicTest",),
    "model eval": (
        "classroom model eval ../shared/data/fer2013/PublicTest",
        "classroom model eval ../shared/data/fer2013/PublicTest --precision float32 --json",
    ),
    "model list": ("classroom model list",),
    "model quantize": ("classroom model quantize ../shared/data/fer2013/Training",),
    "model train": (
        "classroom model train --arch resnet_cbam --data ../shared/data/fer2013/Training "
        "--val ../shared/data/fer2013/PublicTest --epochs 150 --out runs/resnet_cbam",
    ),
    "model train-eyes": (
        "classroom model train-eyes --data ../shared/data/eyes/cew --out runs/eye_cnn.pt",
    ),
    "roster": ("classroom roster import roster.yaml --data-dir lesson-data",),
    "roster import": (
        "classroom roster import roster.yaml --classroom room-101 --data-dir lesson-data",
    ),
    "roster enroll": (
        "classroom roster enroll --roster roster.yaml --student s-anna anna-1.jpg anna-2.jpg",
    ),
    "camera": (f"classroom camera --source {VIDEO} --camera-id cam-1 --fps 5",),
    "infer": ("CLASSROOM_KAFKA__BOOTSTRAP_SERVERS=kafka:9092 classroom infer",),
    "streams": ("CLASSROOM_KAFKA__BOOTSTRAP_SERVERS=kafka:9092 classroom streams",),
    "sink": ("classroom sink --dsn https://clickhouse:8443/classroom",),
    "db": ("classroom db status --data-dir lesson-data",),
    "db migrate": ("classroom db migrate --data-dir lesson-data",),
    "db status": ("classroom db status --data-dir lesson-data",),
    "sql": (
        'classroom sql --data-dir lesson-data "SELECT person_id, round(score) AS score '
        'FROM v_session_scores ORDER BY score"',
        'classroom sql --data-dir lesson-data --format csv "SELECT * FROM v_alerts" > alerts.csv',
        "classroom sql --data-dir lesson-data - < query.sql",
    ),
    "schemas": ("classroom schemas export --out /tmp/jsonschema",),
    "schemas export": ("classroom schemas export --out /tmp/jsonschema",),
    "dashboards": ("classroom dashboards generate --out /tmp/dashboards",),
    "dashboards generate": ("classroom dashboards generate --out /tmp/dashboards",),
    "dashboards push": (
        "CLASSROOM_GRAFANA__TOKEN_FILE=grafana-token classroom dashboards push "
        "--url https://grafana.school.example",
    ),
    "settings": (
        "classroom settings",
        "CLASSROOM_POLICY__EMOTION=off classroom settings --format markdown",
        "classroom settings --doc docs/settings.md --check",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module_name, attribute, _ = SUBCOMMANDS[cmd_name]
        command = getattr(importlib.import_module(module_name), attribute)
        _add_examples(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, _, text) in SUBCOMMANDS.items()])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click prints these as one line and picks the exit code
        except Exception as exc:
            if os.environ.get("CLASSROOM_DEBUG") == "1":
                raise
            raise click.ClickException(one_line_error(exc)) from exc


def _add_examples(command: click.Command, path: str) -> None:
    """Put the examples of ``path`` (and of its subcommands) at the end of their --help."""
    examples = EXAMPLES.get(path)
    if examples and not command.epilog:
        command.epilog = "\b\nExamples:\n" + "\n".join(f"  {line}" for line in examples)
    if isinstance(command, click.Group):
        for name, subcommand in command.commands.items():
            _add_examples(subcommand, f"{path} {name}")


def one_line_error(exc: Exception) -> str:
    """What failed and why, in one line, for an error no command turned into a message."""
    if isinstance(exc, pydantic.ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        return (
            f"invalid setting ({problems}): fix the CLASSROOM_* environment variable "
            "or the CLASSROOM_CONFIG file (schemas/settings.py documents each field)"
        )
    first_line = (str(exc).strip().splitlines() or [""])[0]
    reason = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
    return f"{reason} (run again with CLASSROOM_DEBUG=1 for the traceback)"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Classroom analytics: cameras to per-student concentration metrics.

    \b
    Start here:
      classroom analyze ../shared/data/video/classroom.mp4 --data-dir lesson-data
      classroom sql --data-dir lesson-data "SELECT * FROM v_session_scores"
    """


if __name__ == "__main__":
    main()
