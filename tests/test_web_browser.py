"""End to end in a real browser: `musenet serve` in a subprocess, Debian's Chromium driven by Playwright.

Generates, plays, continues, goes back, branches, downloads, and sees upload errors shown in the page. Needs
`apt-get install chromium` (done by .ci/run) and `pip install playwright`; skipped without them, except on CI.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_web_api import primer_midi, save_random_model  # tests/ is on sys.path (pytest's rootdir import)

from musenet.codec.safe import SafeLoader

CHROMIUM = Path("/usr/lib/chromium/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required"]  # fmt: skip

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
    model = save_random_model(tmp_path_factory.mktemp("model"))
    home = tmp_path_factory.mktemp("home")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MUSENET_HOME=str(home))
    cmd = [
        sys.executable,
        "-m",
        "musenet",
        "serve",
        "--model",
        str(model),
        "--port",
        str(port),
        "--threads",
        "1",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/info", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"musenet serve did not start: {proc.stdout.read()}")
            time.sleep(0.2)
    yield url, home
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def page(server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def cards(page):
    page.locator("#children .card canvas[data-notes]").nth(1).wait_for()  # the second roll is drawn
    return page.locator("#children .card")


def watch_progress(page):
    """Records every text the progress line shows, so a fast job's progress is seen too."""
    page.evaluate("""() => {
        window.seen = [];
        new MutationObserver(() => window.seen.push($('job').hidden ? '' : $('job-text').textContent))
            .observe(document.getElementById('job'), {subtree: true, childList: true, attributes: true});
    }""")


def test_generate_play_continue_back_branch_download(server, page, tmp_path):
    url, home = server
    page.goto(url)
    page.wait_for_selector("#instruments input[value=violin]")
    page.check("#instruments input[value=violin]")
    page.check("#instruments input[value=drums]")
    page.fill("#seconds", "3")
    page.fill("#candidates", "2")
    page.fill("#seed", "7")

    # generate: progress shows, two candidates each with a coloured piano roll and a player
    watch_progress(page)
    page.click("#generate")
    roots = cards(page)
    assert roots.count() == 2
    assert any(t.startswith(("Generating", "Starting", "Queued")) for t in page.evaluate("window.seen"))
    assert page.is_hidden("#job") and page.is_hidden("#error")
    colours = page.evaluate("""() => {
        const c = document.querySelector('#children .card canvas'), g = c.getContext('2d');
        const d = g.getImageData(0, 0, c.width, c.height).data, seen = new Set();
        for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200) seen.add(`${d[i] >> 4},${d[i + 1] >> 4},${d[i + 2] >> 4}`);
        return seen.size;
    }""")
    assert colours >= 3  # piano, violin and drums in their own colours (and the background)

    # play the first candidate: the server's WAV loads and plays
    played = page.evaluate("""async () => {
        const a = document.querySelector('#children .card audio');
        await a.play();
        await new Promise((r) => setTimeout(r, 600));
        a.pause();
        return {t: a.currentTime, d: a.duration};
    }""")
    assert played["t"] > 0 and 3 <= played["d"] <= 3 + 0.1 + 2.5  # the piece plus the audio's 2 s tail
    page.screenshot(path=str(tmp_path / "1-candidates.png"), full_page=True)

    # continue candidate 1: its continuations show, with the verbatim part shaded
    roots.nth(0).locator("button.continue").click()
    page.wait_for_selector("#current h3:text-is('candidate 1')")
    kids = cards(page)
    assert "new music from" in kids.nth(0).locator(".meta").inner_text()
    assert page.inner_text("#children-title") == "Continuations of candidate 1"

    # back (the browser's Back button too), then branch from candidate 2
    page.click("#path button:text-is('Start')")
    page.wait_for_selector("#children-title:text-is('Your starts')")
    page.go_back()
    page.wait_for_selector("#current h3:text-is('candidate 1')")
    page.click("#tree button:text-is('Start')")
    page.wait_for_selector("#children-title:text-is('Your starts')")
    cards(page).nth(1).locator("button.continue").click()
    page.wait_for_selector("#current h3:text-is('candidate 2')")
    cards(page)
    assert (
        page.locator("#tree button[data-node]:not([data-node=''])").count() == 6
    )  # 2 roots, 2 children each
    page.screenshot(path=str(tmp_path / "2-branch.png"), full_page=True)

    # download the current node's MIDI and WAV
    with page.expect_download() as d:
        page.click("#current a.midi")
    midi = tmp_path / "node.mid"
    d.value.save_as(midi)
    with SafeLoader() as loader:
        notes = len(loader.load(midi))
    assert f"{notes} notes" in page.inner_text("#current .meta")
    with page.expect_download() as d:
        page.click("#current a.wav")
    d.value.save_as(tmp_path / "node.wav")
    assert (tmp_path / "node.wav").read_bytes()[:4] == b"RIFF"
    assert page.errors == []


@pytest.mark.slow
def test_upload_errors_are_shown_and_a_primer_can_be_continued(server, page, tmp_path):
    url, _ = server
    page.goto(url)
    page.wait_for_selector("#instruments input")
    page.click("#upload")
    assert "choose a MIDI file first" in page.inner_text("#error")

    page.set_input_files("#primer-file", {"name": "junk.mid", "mimeType": "audio/midi", "buffer": b"hello"})
    page.click("#upload")
    page.wait_for_selector("#error:not([hidden]) >> text=not a MIDI file")

    big = b"MThd" + bytes(3 * 1024 * 1024)
    page.set_input_files("#primer-file", {"name": "big.mid", "mimeType": "audio/midi", "buffer": big})
    page.click("#upload")
    page.wait_for_selector("#error:not([hidden]) >> text=over the server's limit")

    page.set_input_files(
        "#primer-file", {"name": "tune.mid", "mimeType": "audio/midi", "buffer": primer_midi(4)}
    )
    page.fill("#seconds", "2")
    page.fill("#candidates", "2")
    page.click("#upload")
    page.wait_for_selector("#current h3:text-is('tune.mid')")
    assert page.is_hidden("#error")
    page.click("#current button.continue")
    assert cards(page).count() == 2
    page.screenshot(path=str(tmp_path / "3-primer.png"), full_page=True)

    # a request the server refuses is shown as it is
    page.fill("#seconds", "200")  # over the server's 120 s (GenerateConfig itself would take up to 3600)
    page.click("#current button.continue")
    page.wait_for_selector("#error:not([hidden]) >> text=length must be between")
    assert page.errors == []


def test_api_docs_render_offline(server, page):
    url, _ = server
    outside = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(url) or r.url.startswith("data:") else outside.append(r.url),
    )
    page.goto(f"{url}/docs")
    page.locator(".opblock-summary-path", has_text="/api/sessions/{sid}/nodes/{nid}/continue").wait_for()
    assert outside == [] and page.errors == []
