"""The Aim UI in a real browser: the tiny MOPO and VIPO-MOPO runs (tests/compare/conftest.py)
as a user sees them after ``aim up``.

``aim up`` is started on 127.0.0.1 (a free port) over the runs' repo; headless Chromium from
Debian's package is driven by Playwright (``executable_path``: Playwright never downloads a
browser here). Every request that leaves 127.0.0.1 (the UI links a CDN, web fonts and an
analytics snippet) is aborted, so the test works offline. Checked: the runs page lists every
run with its recipe name; the metrics explorer, asked for ``eval/normalized_score`` grouped
by colour by ``run.recipe_name`` (the UI's state in its URL, encoded as the UI does), shows
one group per recipe. Screenshots go to ``$COMPOSE_SCREENSHOTS`` (CI keeps them as artifacts)
or the test's temporary folder. Skipped only where Chromium is not installed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.compare import RECIPES, SEEDS

CHROMIUM = next(
    (
        p
        for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
        if p and Path(p).is_file()
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)"
)

# Flags for a headless Chromium in a container: no sandbox (root), no GPU, no network chatter.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _aim_command() -> list[str]:
    script = Path(sys.executable).parent / "aim"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from aim.cli.cli import cli_entry_point; cli_entry_point()"]


def ui_state(value: dict[str, Any]) -> str:
    """A URL state value as Aim's UI encodes it: ``O-`` + base64url(encodeURI(JSON)), no padding."""
    text = urllib.parse.quote(json.dumps(value, separators=(",", ":")), safe="~@#$&()*!+=:;,?/'")
    b64 = base64.b64encode(text.encode()).decode()
    return "O-" + b64.replace("=", "").replace("+", "-").replace("/", "_")


@pytest.fixture(scope="module")
def aim_up(tiny_runs: Path) -> Iterator[str]:
    """``aim up`` over the tiny runs' repo; yields its base URL."""
    port = _free_port()
    log = (tiny_runs / "aim_up.log").open("w")
    proc = subprocess.Popen(
        [
            *_aim_command(),
            "up",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--repo",
            str(tiny_runs / "aim"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/api/projects/", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    f"aim up did not start: {(tiny_runs / 'aim_up.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go."""
    folder = Path(os.environ.get("COMPOSE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def page(aim_up: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Chromium page (fresh profile) that may only reach ``aim up``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith((aim_up, "data:"))
                else route.abort()
            ),
        )
        context.set_default_timeout(60_000)
        try:
            yield context.new_page()
        finally:
            context.close()


def _settled(page: Any) -> None:
    """Wait until the UI's query has finished (its 'Processing...' overlay is gone)."""
    page.wait_for_load_state("networkidle")
    page.get_by_text("Processing...").wait_for(state="hidden")
    page.wait_for_timeout(500)  # the chart's transition


def _dismiss_popup(page: Any) -> None:
    """Close the UI's 'join the community' card when it shows (it covers part of the page)."""
    skip = page.get_by_text("Skip", exact=True)
    if skip.count():
        skip.first.click()


def _hashes(tiny_runs: Path) -> dict[str, str]:
    return {
        json.loads((tiny_runs / recipe / seed / "summary.json").read_text())["aim_run_hash"]: recipe
        for recipe in RECIPES
        for seed in (f"seed_{s}" for s in SEEDS[recipe])
    }


def test_runs_page_lists_every_run_with_its_recipe(
    page: Any, aim_up: str, tiny_runs: Path, shots: Path
) -> None:
    hashes = _hashes(tiny_runs)
    page.goto(aim_up + "/runs")
    _settled(page)
    for run_hash in hashes:
        page.get_by_text(run_hash).first.wait_for()
    _dismiss_popup(page)
    text = page.inner_text("body")
    # each recipe's name shows as its runs' experiment and tag (the wide table renders the
    # param columns lazily, off screen): 2 runs x (experiment + tag) per recipe
    assert text.count("vipo_mopo") >= 4 and text.replace("vipo_mopo", "").count("mopo") >= 4
    page.screenshot(path=str(shots / "aim_runs.png"), full_page=True)

    # The README's query: the runs of one recipe (and only those) are listed.
    query = {
        "options": [],
        "query": 'run.recipe_name == "vipo_mopo"',
        "advancedMode": False,
        "advancedQuery": "",
    }
    page.goto(f"{aim_up}/runs?select={ui_state(query)}")
    _settled(page)
    vipo = [h for h, r in hashes.items() if r == "vipo_mopo"]
    for run_hash in vipo:
        page.get_by_text(run_hash).first.wait_for()
    text = page.inner_text("body")
    assert all(h not in text for h, r in hashes.items() if r != "vipo_mopo"), text[:2000]
    page.screenshot(path=str(shots / "aim_runs_vipo_mopo.png"), full_page=True)


def test_metrics_explorer_groups_the_score_by_recipe(page: Any, aim_up: str, shots: Path) -> None:
    select = {
        "options": [],
        "query": "",
        "advancedMode": True,
        "advancedQuery": '(metric.name == "eval/normalized_score")',
    }
    grouping = {
        "color": ["run.params.recipe_name"],
        "stroke": [],
        "chart": [],
        "reverseMode": {"color": False, "stroke": False, "chart": False},
        "isApplied": {"color": True, "stroke": True, "chart": True},
        "persistence": {"color": False, "stroke": False},
        "seed": {"color": 10, "stroke": 10},
        "paletteIndex": 0,
    }
    page.goto(f"{aim_up}/metrics?select={ui_state(select)}&grouping={ui_state(grouping)}")
    _settled(page)
    page.locator(".LineChart svg").first.wait_for()
    page.get_by_text('"vipo_mopo"').first.wait_for()
    _dismiss_popup(page)
    legend = page.locator(".ChartPanel").first.inner_text()
    assert "run.recipe_name" in legend
    assert '"mopo"' in legend and '"vipo_mopo"' in legend
    assert "eval/normalized_score" in page.inner_text("body")
    # the table below the chart: one group per recipe, each of its two runs
    assert page.get_by_text("Mixed: 2 values").count() >= 2
    page.screenshot(path=str(shots / "aim_metrics_by_recipe.png"))
