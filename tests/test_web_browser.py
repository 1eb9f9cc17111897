"""End to end in a real browser: `musenet serve` in a subprocess, Debian's Chromium driven by Playwright.

Generates, plays, continues, goes back, branches, downloads, regenerates a dragged span, and sees upload errors
shown in the page. Needs
`apt-get install chromium` (done by .ci/run) and `pip install playwright`; skipped without them, except on CI.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_web_api import primer_midi  # tests/ is on sys.path (pytest's rootdir import)
from test_web_infill import save_infill_model, save_plain_model

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


@contextmanager
def serving(model: Path, home: Path):
    """`musenet serve --model MODEL` in a subprocess, on a free port; yields its URL."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
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
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server whose random model never learned infilling (like the shipped v0.2)."""
    home = tmp_path_factory.mktemp("home")
    with serving(save_plain_model(tmp_path_factory.mktemp("model")), home) as url:
        yield url, home


@pytest.fixture(scope="module")
def infill_server(tmp_path_factory):
    """A server whose random model has the infilling tokens."""
    home = tmp_path_factory.mktemp("home-infill")
    with serving(save_infill_model(tmp_path_factory.mktemp("infill-model")), home) as url:
        yield url


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
    assert page.is_hidden("#guidance-box")  # a model trained without style dropout takes no guidance
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
        const seen = new Set();  // over both candidates' rolls: a random model's notes may be a pixel thin in one
        for (const c of document.querySelectorAll('#children .card canvas')) {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200) seen.add(`${d[i] >> 4},${d[i + 1] >> 4},${d[i + 2] >> 4}`);
        }
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
    # this model never learned infilling: the page says so instead of offering a button that would fail
    assert page.is_disabled("#current button.regen")
    assert "unavailable" in page.inner_text("#current .span-tools .why")
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


def test_drag_a_span_and_regenerate_it(infill_server, page, tmp_path):
    page.goto(infill_server)
    page.wait_for_selector("#instruments input")
    page.set_input_files(
        "#primer-file", {"name": "tune.mid", "mimeType": "audio/midi", "buffer": primer_midi(6)}
    )
    page.click("#upload")
    page.wait_for_selector("#current canvas.pick[data-notes]")
    assert page.is_disabled("#current button.regen")  # no span yet

    # drag across the roll from 2 s to 4 s of the 5.9 s primer
    roll = page.locator("#current canvas.pick")
    seconds = page.evaluate("(id) => state.nodes.get(id).seconds", page.evaluate("state.current"))
    box = roll.bounding_box()
    x = lambda t: box["x"] + t / seconds * box["width"]  # noqa: E731
    y = box["y"] + box["height"] / 2
    page.mouse.move(x(2.0), y)
    page.mouse.down()
    page.mouse.move(x(3.0), y, steps=4)
    page.mouse.move(x(4.0), y, steps=4)
    page.mouse.up()
    assert page.input_value("#current .span-start") == "2.0"
    assert page.input_value("#current .span-end") == "4.0"
    assert page.inner_text("#current button.regen") == "Regenerate span 2–4 s"

    page.check("#current .span-instruments input[value=piano]")
    assert page.is_visible("#guidance")  # this model learned style dropout: style strength is offered
    page.eval_on_selector("#guidance", "(e) => { e.value = '2'; e.dispatchEvent(new Event('input')); }")
    assert page.inner_text("#guidance-out") == "2.00"
    page.fill("#candidates", "2")
    page.fill("#seed", "5")
    page.click("#current button.regen")
    kids = cards(page)
    assert kids.count() == 2 and page.inner_text("#children-title") == "Spans redone in tune.mid"
    assert "redid 2.0–4.0 s (piano)" in kids.nth(0).locator(".meta").inner_text()
    assert "style ×2" in kids.nth(0).locator(".meta").inner_text()
    assert page.locator("#tree button", has_text="✎ infill 1").count() == 1

    # each child's roll highlights the redone span: tinted inside it, untouched outside (its top row is empty)
    tint = page.evaluate("""() => [...document.querySelectorAll('#children .card')].map((card) => {
        const c = card.querySelector('canvas'), g = c.getContext('2d');
        const seconds = state.nodes.get(card.dataset.node).seconds;
        const px = (t) => [...g.getImageData(Math.round((t / seconds) * c.width), 1, 1, 1).data];
        return {span: c.dataset.span, before: px(1.0), inside: px(3.0), after: px(5.0)};
    })""")
    for t in tint:
        assert t["span"] == "2.00-4.00"
        r, g, b, alpha = t["inside"]
        assert alpha > 0 and r > g > b, t  # the span's amber tint
        assert t["before"][3] == 0 and t["after"][3] == 0, t

    page.screenshot(path=str(tmp_path / "4-span.png"), full_page=True)

    # open a child: the span stays highlighted on its own roll
    kids.nth(1).locator("button.open").click()
    page.wait_for_selector("#current h3:text-is('infill 2')")
    assert page.get_attribute("#current canvas", "data-span") == "2.00-4.00"
    assert page.errors == []
