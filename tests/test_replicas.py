"""The app as a large event runs it: two replicas behind nginx (scripts/serve.sh), driven in
Chromium through the proxy. A save made on one replica is listed on the other, a link made on one
opens on the other, and killing a browser's replica loses nothing saved: the browser reconnects
to a live replica and carries on."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.serve import free_port
from lib import saved

from .conftest import ROOT
from .test_e2e import browser, move_loss_share, open_saved, save_design, slider, tiles, wait_for_new_tiles, wait_ready  # noqa: F401

pytestmark = pytest.mark.browser
LOG = ROOT / "test-artifacts" / "serve-replicas.log"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """scripts/serve.sh with two replicas on a free port: (its address, its run folder)."""
    run_dir, port = tmp_path_factory.mktemp("serve"), free_port()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG, "w") as log:
        process = subprocess.Popen(
            ["bash", "scripts/serve.sh", "--replicas", "2", "--port", str(port), "--run-dir", str(run_dir)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while "Care Models Lab: http" not in LOG.read_text():
            assert process.poll() is None and time.monotonic() < deadline, LOG.read_text()[-2000:]
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", run_dir
    finally:
        process.terminate()  # serve.sh stops nginx and every replica
        process.wait(timeout=60)
    assert "Care Models Lab stopped." in LOG.read_text()


def on_each_replica(browser, base: str) -> list:  # noqa: F811 - the shared browser fixture
    """Two pages, each in its own browser context (its own cookie), that nginx sent to different replicas."""
    seen: dict[str, object] = {}
    for _ in range(20):
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        replica = page.goto(f"{base}/design").headers["x-carelab-replica"]
        if replica in seen:
            context.close()
            continue
        page.replica = replica
        seen[replica] = page
        if len(seen) == 2:
            return list(seen.values())
    pytest.fail("nginx sent twenty new browsers to one replica: the sessions are not spread")


def test_a_save_and_a_link_cross_replicas_and_a_killed_replica_loses_nothing(browser, proxy):  # noqa: F811
    base, run_dir = proxy
    first, second = on_each_replica(browser, base)
    try:
        for page in (first, second):
            wait_ready(page)
        # A table on the first replica changes its design and saves it.
        move_loss_share(first, "Home")
        designed = tiles(first)
        save_design(first, "Proxy table 1", "Through nginx")
        first.keyboard.press("Escape")

        # The facilitator, on the other replica, finds it and opens it.
        open_saved(second, base, "Proxy table 1")
        assert tiles(second) == designed

        # The first table's link, opened on the other replica, shows the same design.
        link = first.url
        assert "s=" in link
        second.goto(link)
        wait_ready(second)
        assert tiles(second) == designed

        # The first table's replica is killed; its browser carries on on a live one.
        port = first.replica.rsplit(":", 1)[1]
        victim = int((run_dir / f"replica-{port}.pid").read_text())
        with first.expect_navigation(timeout=60_000):  # reconnected through nginx, it reopens its link
            os.kill(victim, signal.SIGKILL)
        wait_ready(first)
        assert tiles(first) == designed  # the design came back with the page
        before = first.locator("[data-testid='stMetricValue']").all_inner_texts()
        loss = slider(first, "loss share")
        loss.focus()
        loss.press("End")
        wait_for_new_tiles(first, before)
        assert tiles(first) != designed  # a live replica answered the move
        assert "Proxy table 1" in set(saved.listing()["name"])  # nothing saved was lost
        with pytest.raises(ProcessLookupError):
            os.kill(victim, 0)  # the replica really died
    except Exception:
        for name, page in (("first", first), ("second", second)):
            page.screenshot(path=str(LOG.parent / f"replicas-{name}.png"), full_page=True)
        raise
    finally:
        for page in (first, second):
            page.context.close()
