"""The real broker of the spine tests (tansu, a fresh one per test) for these tests too."""

from tests.spine.conftest import broker, tansu_process

__all__ = ["broker", "tansu_process"]
