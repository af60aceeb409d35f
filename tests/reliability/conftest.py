"""The spine's tansu broker fixture, shared rather than copied."""

from tests.spine.conftest import broker

__all__ = ["broker"]
