"""The spine's tansu broker fixtures, shared rather than copied."""

from tests.spine.conftest import broker, tansu_process

__all__ = ["broker", "tansu_process"]
