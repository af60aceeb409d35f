"""The report of the real pipeline run, opened in headless Chromium: every section and
every chart is laid out with a visible size, and nothing is fetched from the network."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from classroom.report import SECTIONS
from tests.conftest import AnalyzedWarehouse

# Run inside the page after layout; the report itself carries no script. It writes what
# the browser laid out into the DOM, which --dump-dom then prints.
LAYOUT_PROBE = """
<script>
window.addEventListener("load", () => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  const sections = {};
  for (const section of document.querySelectorAll("section")) {
    sections[section.id] = {
      box: box(section),
      charts: [...section.querySelectorAll("svg")].map(box),
      tables: [...section.querySelectorAll("table")].map(box),
    };
  }
  const out = document.createElement("pre");
  out.id = "layout";
  const resources = performance.getEntriesByType("resource").length;
  out.textContent = JSON.stringify({sections, resources});
  document.body.appendChild(out);
});
</script>
"""


def chromium(tmp_path: Path, *arguments: str) -> str:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (scripts/test.sh does)")
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", *arguments,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


@pytest.fixture(scope="module")
def layout(analyzed_warehouse: AnalyzedWarehouse, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp_path = tmp_path_factory.mktemp("chromium")
    probed = tmp_path / "probed.html"
    page = analyzed_warehouse.report.read_text(encoding="utf-8")
    probed.write_text(page.replace("</body>", LAYOUT_PROBE + "</body>"), encoding="utf-8")
    dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri())
    match = re.search(r'<pre id="layout">(.*?)</pre>', dom, re.S)
    assert match, "the page did not finish loading in Chromium"
    return json.loads(html.unescape(match.group(1)))


def test_every_section_is_laid_out(layout: dict) -> None:
    assert list(layout["sections"]) == list(SECTIONS)
    for section_id, section in layout["sections"].items():
        width, height = section["box"]
        assert width > 300 and height > 40, section_id


def test_every_chart_and_table_has_a_visible_size(layout: dict) -> None:
    sections = layout["sections"]
    for section_id in ("class-concentration", "student-heatmap", "expression-mix"):
        assert sections[section_id]["charts"], f"{section_id} has no chart"
    assert sections["session-scores"]["tables"], "session scores have no table"
    for section_id, section in sections.items():
        for width, height in section["charts"] + section["tables"]:
            assert width > 20 and height > 8, section_id


def test_page_loads_nothing_from_anywhere(layout: dict) -> None:
    assert layout["resources"] == 0


def test_screenshot_shows_the_charts(analyzed_warehouse: AnalyzedWarehouse, tmp_path: Path) -> None:
    screenshot = tmp_path / "report.png"
    chromium(tmp_path, "--window-size=1200,3000", f"--screenshot={screenshot}",
             analyzed_warehouse.report.as_uri())  # fmt: skip
    image = cv2.imread(str(screenshot))
    assert image is not None and image.shape[:2] == (3000, 1200)
    # The class line (#1565c0) and the coloured heat-map cells are on the page.
    line_blue = np.all(np.abs(image.astype(int) - (192, 101, 21)) < 12, axis=2)
    saturated = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[..., 1] > 120
    assert line_blue.sum() > 500
    assert saturated.sum() > 20_000
