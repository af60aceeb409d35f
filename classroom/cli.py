"""The ``classroom`` command. Each subcommand lives with the code it runs and is imported
only when called, so ``classroom sql`` does not pay for loading torch."""

from __future__ import annotations

import importlib

import click

SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (module, click command attribute, one-line help shown by --help)
    "analyze": (
        "classroom.analyze",
        "analyze",
        "Analyse a lesson video or camera on this machine.",
    ),
    "faces": ("workers.vision.cli", "faces", "Print the faces found in images or videos."),
    "model": ("workers.vision.cli", "model", "Evaluate (and train) expression models."),
    "roster": ("workers.vision.cli", "roster", "Enroll students for face identity."),
    "camera": ("workers.camera", "camera", "Camera agent: publish sampled frames to Kafka."),
    "infer": ("workers.infer", "infer", "Inference worker: frames to face events."),
    "streams": ("streams.app", "streams", "Faust worker: face events to windows and alerts."),
    "sink": ("workers.sink", "sink", "ClickHouse sink: topics to warehouse tables."),
    "db": ("schemas.cli", "db", "Warehouse migrations and status."),
    "sql": ("schemas.cli", "sql", "Run SQL against the warehouse."),
    "schemas": ("schemas.cli", "schemas", "Export the event JSON Schemas."),
    "dashboards": ("dashboards.cli", "dashboards", "Generate and push Grafana dashboards."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module_name, attribute, _ = SUBCOMMANDS[cmd_name]
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, _, text) in SUBCOMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Classroom analytics: cameras to per-student concentration metrics."""


if __name__ == "__main__":
    main()
