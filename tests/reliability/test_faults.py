"""Faults on real services (tansu broker, chdb): nothing lost, nothing doubled.

The scenarios live in ``scenarios.py`` (``bench/faults.py`` prints the same counts). The
default run has a short warehouse outage; the long ones are marked ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from classroom.settings import KafkaSettings
from tests.reliability import scenarios


def test_sink_pauses_and_retries_through_a_short_warehouse_outage(
    broker: KafkaSettings, tmp_path: Path
) -> None:
    result = scenarios.warehouse_outage(broker, tmp_path, outage_s=5)
    assert (result.lost, result.duplicated) == (0, 0), result
    assert result.events_out == result.events_in


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sink_pauses_and_retries_through_a_30_s_warehouse_outage(
    broker: KafkaSettings, tmp_path: Path
) -> None:
    result = scenarios.warehouse_outage(broker, tmp_path, outage_s=30, events=3000)
    assert (result.lost, result.duplicated) == (0, 0), result
    assert result.detail.startswith(tuple(f"{n} failed" for n in range(2, 100))), result.detail


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_broker_outage_camera_buffers_within_its_bound_and_counts_reconcile(
    tmp_path: Path,
) -> None:
    result = scenarios.broker_outage(tmp_path, outage_s=10, buffer_frames=8)
    assert result.lost == 0, result
    assert result.duplicated == 0, result
    assert " dropped by " in result.detail and not result.detail.startswith("frames: 0 "), result
