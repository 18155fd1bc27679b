"""HTML pages: MathML for every equation, no network at view time, readable at phone width, Japanese glyphs drawn.

The pages are rendered once per session and opened in headless Chromium, every browser run in parallel, each with
a fresh profile:

- ``--dump-dom`` gives the DOM as the browser built it (MathML, no ``$`` left, nothing fetched from outside);
- ``--screenshot`` gives what a reader sees (a non-blank page).
- Phone width: headless Chromium never makes its window narrower than 500 CSS px, so ``--window-size=420,…``
  only crops a 500 px layout. The phone checks therefore drive one Chromium per worker over
  ``--remote-debugging-pipe`` (the DevTools protocol on two file descriptors, no extra package) and emulate a
  420 × 2000 mobile screen with ``Emulation.setDeviceMetricsOverride``: the page must not be wider than the screen,
  and the screenshot must not be blank.

Japanese glyphs (no "tofu"): a page and a copy of it with every kana and kanji replaced by 一 are screenshot.
Without a CJK font every one of those characters is drawn as the same empty box of the same width, so the two
screenshots are pixel-identical; with a font they differ. A control run under a fontconfig that has only the
DejaVu fonts shows that the probe really does see the difference on this machine.
"""
from __future__ import annotations

import base64
import json
import os
import re
import select
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import IN_CI, require_tool
from derive.present.render import LANGUAGES
from derive.scenarios import SCENARIOS

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--force-device-scale-factor=1"]
PHONE = (420, 2000)
SCREENSHOT = (800, 1000)  # --screenshot: headless Chromium lays out at least 500 px wide
CHROMIUM_TIMEOUT = 120
WORKERS = 2  # the machines have 2 cores; more parallel Chromiums only queue for them
PHONE_BROWSERS = 1  # one DevTools browser visits every page (about 0.4 s a visit, no start-up each time)
KEY_CODES = {"ArrowLeft": 37, "ArrowRight": 39, "Home": 36, "End": 35}
KEYS = [(s, lang) for s in SCENARIOS for lang in LANGUAGES]
SCRIPT_BUDGET = 8192  # bytes of html/stepthrough.js: a few kilobytes
IDS = [f"{s}-{lang}" for s, lang in KEYS]
CJK = re.compile(r"[\u3041-\u30ff\u4e00-\u9fff]")


# --- rendering, once per session ---------------------------------------------------------------------------------

@dataclass
class Page:
    markdown: str = ""
    html: str = ""
    path: Path | None = None
    variant: Path | None = None  # Japanese pages: every kana and kanji replaced by 一
    error: str | None = None


def cjk_variant(text: str) -> str:
    return CJK.sub("\u4e00", text)


@pytest.fixture(scope="session")
def pages(request, tmp_path_factory) -> dict[tuple[str, str], Page]:
    """Every scenario × language as Markdown and HTML. Taken from the session's gallery when it has the HTML
    files (the gallery is built once per session anyway), else rendered here; a scenario that cannot be built yet
    is recorded, and its tests fail with the reason (the others still run)."""
    from derive.present.render import render
    from derive.scenarios import build

    gallery = _gallery_with_html(request)
    folder = tmp_path_factory.mktemp("html")
    out: dict[tuple[str, str], Page] = {}
    walks: dict[str, object] = {}
    for scenario, lang in KEYS:
        page = Page()
        try:
            if gallery is not None:
                from derive.gallery import relative_path
                page.markdown = (gallery / relative_path(scenario, "markdown", lang)).read_text(encoding="utf-8")
                page.html = (gallery / relative_path(scenario, "html", lang)).read_text(encoding="utf-8")
            else:
                walk = walks.get(scenario) or walks.setdefault(scenario, build(scenario))
                page.markdown = render(walk, "markdown", lang)
                page.html = render(walk, "html", lang)
        except Exception as error:  # noqa: BLE001 - reported by each test of this page
            page.error = f"{type(error).__name__}: {error}"
        else:
            page.path = folder / f"{scenario}-{lang}.html"
            page.path.write_text(page.html, encoding="utf-8")
            if lang == "ja":
                page.variant = folder / f"{scenario}-{lang}-variant.html"
                page.variant.write_text(cjk_variant(page.html), encoding="utf-8")
        out[scenario, lang] = page
    return out


def _gallery_with_html(request) -> Path | None:
    from derive.gallery import gallery_files

    if not any(fmt == "html" for _, fmt, _ in gallery_files()):
        return None
    try:
        return request.getfixturevalue("gallery")
    except (Exception, pytest.fail.Exception):  # noqa: BLE001 - a broken gallery is test_gallery's to report
        return None


def page_of(pages, scenario: str, lang: str) -> Page:
    page = pages[scenario, lang]
    if page.error:
        pytest.fail(f"{scenario} ({lang}) does not render: {page.error}")
    return page


# --- Chromium ----------------------------------------------------------------------------------------------------

def chromium(binary: str, url: str, *, screenshot: Path | None = None, size=SCREENSHOT) -> bytes:
    """One headless Chromium run with a fresh profile: the DOM (``--dump-dom``) or a PNG (``--screenshot``)."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        args = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"]
        args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
        result = subprocess.run(args + [url], capture_output=True, timeout=CHROMIUM_TIMEOUT, check=False)
        if screenshot is not None:
            if not screenshot.is_file():
                raise RuntimeError(f"chromium wrote no screenshot (exit {result.returncode}): "
                                   f"{result.stderr.decode(errors='replace')[-800:]}")
            return screenshot.read_bytes()
        if result.returncode != 0 or b"<html" not in result.stdout:
            raise RuntimeError(f"chromium --dump-dom failed (exit {result.returncode}): "
                               f"{result.stderr.decode(errors='replace')[-800:]}")
        return result.stdout


def _high(fd: int) -> int:
    import fcntl
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class DevTools:
    """Headless Chromium driven over ``--remote-debugging-pipe``: commands go in on its fd 3, replies and events
    come out on its fd 4, each a JSON message ended by a NUL byte."""

    def __init__(self, binary: str, env: dict | None = None) -> None:
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        child_in, self._out = os.pipe()
        self._in, child_out = os.pipe()
        # Chromium's ends above 9, so that moving them onto 3 and 4 cannot overwrite one with the other.
        child_in, child_out = (_high(fd) for fd in (child_in, child_out))
        args = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile.name}", "--remote-debugging-pipe",
                "about:blank"]
        # A tiny Python trampoline moves the two pipe ends onto 3 and 4, then becomes Chromium.
        trampoline = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
                      "os.execv(sys.argv[3], sys.argv[3:])")
        self.process = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(child_in), str(child_out), *args],
            pass_fds=(child_in, child_out), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
        os.close(child_in)
        os.close(child_out)
        self._buffer, self._last_id, self._events = b"", 0, []

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + CHROMIUM_TIMEOUT
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def _wait_for(self, method: str, session: str) -> dict:
        deadline = time.monotonic() + CHROMIUM_TIMEOUT
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self._events.pop(i)
            self._events.append(self._receive(deadline))

    def visit(self, url: str, size=PHONE) -> tuple[int, bytes]:
        """Open ``url`` on an emulated mobile screen of ``size``: (the page's scroll width, a PNG screenshot)."""
        target, session = self.open(url, size)
        width = self.evaluate("document.documentElement.scrollWidth", session)
        png = self.screenshot(session)
        self.send("Target.closeTarget", {"targetId": target})
        return int(width), png

    def open(self, url: str, size, *, mobile: bool = True, scripts: bool = True) -> tuple[str, str]:
        """A new tab showing ``url`` on a screen of ``size`` (CSS px): its target and session ids."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": mobile}, session)
        if not scripts:
            self.send("Emulation.setScriptExecutionDisabled", {"value": True}, session)
        self.send("Page.enable", {}, session)
        self.send("Page.navigate", {"url": url}, session)
        self._wait_for("Page.loadEventFired", session)
        return target, session

    def evaluate(self, expression: str, session: str):
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression[:80]}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, session: str, clip: dict | None = None) -> bytes:
        # optimizeForSpeed: Chromium then filters every PNG row with "Up", which decode_png reads at numpy speed.
        params = {"format": "png", "optimizeForSpeed": True}
        if clip is not None:  # in view: capturing beyond the viewport costs a relayout
            params["clip"] = {**clip, "scale": 1}
        return base64.b64decode(self.send("Page.captureScreenshot", params, session)["data"])

    def press(self, key: str, session: str) -> None:
        """A real key press (what a reader's keyboard sends), to whatever has the focus."""
        for kind in ("rawKeyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key,
                                                 "windowsVirtualKeyCode": KEY_CODES[key]}, session)

    def click(self, x: float, y: float, session: str) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
                      session)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._out)
        os.close(self._in)
        self.profile.cleanup()


def no_cjk_fontconfig(folder: Path) -> Path | None:
    """A fontconfig that knows only the DejaVu fonts (no CJK font): the control for the tofu probe."""
    dejavu = Path("/usr/share/fonts/truetype/dejavu")
    if not dejavu.is_dir():
        return None
    config = folder / "fonts.conf"
    config.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
                      f"<fontconfig><dir>{dejavu}</dir><cachedir>{folder / 'cache'}</cachedir></fontconfig>\n",
                      encoding="utf-8")
    return config


SCREENSHOT_PAGES = [("linear-model", "en"), ("linear-model", "ja")]


@pytest.fixture(scope="session")
def browser(pages, tmp_path_factory) -> dict:
    """Every Chromium run of the session, in parallel: ``--dump-dom`` of each page, ``--screenshot`` of the
    linear-model pages, DevTools browsers that visit each page (and each Japanese 一-variant) on a 420 px phone
    screen, and the control pair under a no-CJK fontconfig. Results (or the exception of a failed run) by job."""
    binary = require_tool("chromium")
    folder = tmp_path_factory.mktemp("chromium")
    ready = {key: page for key, page in pages.items() if not page.error}
    jobs: dict[tuple, object] = {}
    for (scenario, lang), page in ready.items():
        jobs["dom", scenario, lang] = lambda p=page: chromium(binary, p.path.as_uri())
    for scenario, lang in SCREENSHOT_PAGES:
        if (scenario, lang) in ready:
            jobs["shot", scenario, lang] = lambda p=ready[scenario, lang], n=f"{scenario}-{lang}": chromium(
                binary, p.path.as_uri(), screenshot=folder / f"{n}.png", size=SCREENSHOT)
    visits = [(("phone", s, lang), page.path) for (s, lang), page in ready.items()]
    visits += [(("variant", s, lang), page.variant) for (s, lang), page in ready.items() if page.variant]
    batches = [(visits[i::PHONE_BROWSERS], None) for i in range(PHONE_BROWSERS)]
    control = next((p for (s, lang), p in ready.items() if lang == "ja"), None)
    config = no_cjk_fontconfig(folder)
    if control and config:
        batches.append(([(("control", "page"), control.path), (("control", "variant"), control.variant)],
                        {"FONTCONFIG_FILE": str(config)}))
    batches = [(batch, env) for batch, env in batches if batch]
    results: dict = {}

    def visit_all(batch, env):
        tools = DevTools(binary, env)
        try:
            for key, path in batch:
                try:
                    results[key] = tools.visit(path.as_uri())
                except Exception as error:  # noqa: BLE001 - reported by the tests that need this visit
                    results[key] = error
        finally:
            tools.close()

    def run(key, call):
        try:
            results[key] = call()
        except Exception as error:  # noqa: BLE001 - reported by the tests that need this run
            results[key] = error

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = [pool.submit(visit_all, batch, env) for batch, env in batches]
        futures += [pool.submit(run, key, call) for key, call in jobs.items()]
        for future in futures:
            future.result()
    results["seconds"] = time.perf_counter() - start
    results["runs"] = len(jobs) + len(batches)
    results["visits"] = sum(len(batch) for batch, _ in batches)
    return results


def result(browser, *key):
    value = browser.get(key)
    if value is None:
        pytest.fail(f"no chromium run for {key}")
    if isinstance(value, Exception):
        pytest.fail(f"chromium run {key} failed: {value}")
    return value


# --- reading the DOM -------------------------------------------------------------------------------------------

class DomReader(HTMLParser):
    """Visible text (outside style, script and MathML annotations), every tag with its attributes, style text."""

    HIDDEN = {"style", "script", "annotation", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.styles: list[str] = []
        self._hidden: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.HIDDEN:
            self._hidden.append(tag)

    def handle_endtag(self, tag):
        if self._hidden and self._hidden[-1] == tag:
            self._hidden.pop()

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)
        elif self._hidden[-1] == "style":
            self.styles.append(data)


def read_dom(text: str) -> DomReader:
    reader = DomReader()
    reader.feed(text)
    return reader


def static_part(html: str) -> str:
    """The page without its step-through's states (each a copy of a backward step the page prints) and without
    what the script shows of them (the status line and the panel)."""
    html = re.sub(r"<template\b.*?</template>", "", html, flags=re.DOTALL)
    return re.sub(r'<p class="step-status".*?(?=<script type="application/json")', "", html, flags=re.DOTALL)


def count_maths(markdown: str) -> tuple[int, int]:
    """(display, inline) maths spans in the Markdown, code left out."""
    text = re.sub(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", "", markdown, flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r"(`+).+?\1", "", text, flags=re.DOTALL)
    display = len(re.findall(r"\$\$.+?\$\$", text, flags=re.DOTALL))
    text = re.sub(r"\$\$.+?\$\$", "", text, flags=re.DOTALL)
    inline = len(re.findall(r"\$[^$\n]+?\$", text))
    return display, inline


EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
URL_ATTRIBUTES = {"src", "href", "xlink:href", "srcset", "data", "poster", "action", "formaction", "background",
                  "manifest", "ping", "longdesc", "cite"}


def external_references(html: str) -> list[str]:
    """Every place in a document that could make a browser fetch something from the network."""
    dom = read_dom(html)
    found = []
    for tag, attrs in dom.tags:
        for name, value in attrs.items():
            if value is None:
                continue
            if name in URL_ATTRIBUTES and any(EXTERNAL.match(part) for part in value.split(",")):
                found.append(f"<{tag} {name}={value!r}>")
            if re.search(r"url\(\s*['\"]?\s*(https?:)?//", value, re.IGNORECASE):
                found.append(f"<{tag} {name}={value!r}>")
        if tag == "link" and "stylesheet" in (attrs.get("rel") or ""):
            found.append(f"<link {attrs}>")
        if tag in ("script", "iframe", "object", "embed") and attrs.get("src"):
            found.append(f"<{tag} src={attrs['src']!r}>")
    for style in dom.styles:
        for match in re.finditer(r"(@import|url\()[^;)]*", style, re.IGNORECASE):
            found.append(match.group(0))
    return found


# --- a tiny PNG decoder ----------------------------------------------------------------------------------------

def decode_png(data: bytes):
    """8-bit, non-interlaced PNG (what Chromium writes) to a numpy array (height, width, channels)."""
    import numpy as np

    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (0, 2, 4, 6) and interlace == 0, f"unsupported PNG {header}"
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:]
        if kind == 0:
            row = line.copy()
        elif kind == 1:  # Sub: a running sum along each channel
            row = (np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint32) % 256).astype(np.uint8)
            row = row.reshape(stride)
        elif kind == 2:  # Up
            row = line + previous
        else:  # Average, Paeth: sequential
            row = np.frombuffer(_unfilter(int(kind), line.tobytes(), previous.tobytes(), bpp), dtype=np.uint8)
        out[y] = row
        previous = row
    return out.reshape(height, width, bpp)


def _unfilter(kind: int, line: bytes, previous: bytes, bpp: int) -> bytes:
    row = bytearray(len(line))
    for i, value in enumerate(line):
        a = row[i - bpp] if i >= bpp else 0
        b = previous[i]
        if kind == 3:
            row[i] = (value + ((a + b) >> 1)) & 255
            continue
        c = previous[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        row[i] = (value + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    return bytes(row)


def test_png_decoder_reads_every_filter():
    import numpy as np

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    rows = []
    for y, kind in enumerate([0, 1, 2, 3, 4]):
        line, above = image[y].reshape(-1).astype(int), (image[y - 1].reshape(-1).astype(int) if y else
                                                          np.zeros(21, dtype=int))
        filtered = []
        for i, x in enumerate(line):
            a = line[i - 3] if i >= 3 else 0
            b = above[i]
            c = above[i - 3] if i >= 3 else 0
            p = a + b - c
            paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
            filtered.append((x - [0, a, b, (a + b) // 2, paeth][kind]) % 256)
        rows.append(bytes([kind] + filtered))
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 7, 5, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))
    assert (decode_png(png) == image).all()


# --- the pages, without a browser ------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario,lang", KEYS, ids=IDS)
def test_page_is_self_contained(pages, scenario, lang):
    page = page_of(pages, scenario, lang)
    html = page.html
    assert html.startswith("<!DOCTYPE html>\n")
    assert f'<html lang="{lang}">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<style>" in html
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.DOTALL)
    assert [attrs for attrs, _ in scripts] == [' type="application/json" class="step-data"', ""], \
        "the step-through's data and its own script, both inline"
    assert len(scripts[1][1].encode()) < SCRIPT_BUDGET, "a few kilobytes of the page's own script"
    assert not re.search(r"\b(fetch|XMLHttpRequest|import|WebSocket|EventSource|sendBeacon)\b", scripts[1][1])
    assert external_references(html) == []
    assert re.search(r'<figure class="graph"><svg id="fig1" role="img" ', html), "the graph is inline SVG"
    assert "<img" not in html, "plots are inline SVG too"
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "no id twice (each drawing's ids are prefixed)"
    assert "derivemath" not in html and "derive-figure-placeholder" not in html


@pytest.mark.parametrize("scenario,lang", KEYS, ids=IDS)
def test_page_has_mathml_for_every_equation(pages, scenario, lang):
    page = page_of(pages, scenario, lang)
    display, inline = count_maths(page.markdown)
    assert display > 0
    html = static_part(page.html)
    assert html.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">') == display
    assert html.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">') == inline


def test_html_is_deterministic(pages):
    from derive.present.render import render
    from derive.scenarios import build

    page = page_of(pages, "linear-model", "en")
    assert render(build("linear-model"), "html", "en") == page.html


# --- the pages in Chromium -------------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario,lang", KEYS, ids=IDS)
def test_browser_builds_mathml_for_every_equation(pages, browser, scenario, lang):
    page = page_of(pages, scenario, lang)
    dom = static_part(result(browser, "dom", scenario, lang).decode("utf-8"))
    display, inline = count_maths(page.markdown)
    assert len(re.findall(r"<math\b", dom)) == display + inline
    assert len(re.findall(r'<math\b[^>]*display="block"', dom)) == display
    for maths in re.findall(r"<math\b.*?</math>", dom, flags=re.DOTALL):
        shown = re.sub(r"<annotation\b.*?</annotation>", "", maths, flags=re.DOTALL)
        assert "\\" not in shown and "<merror" not in shown, f"unconverted LaTeX in {shown[:300]}"


@pytest.mark.parametrize("scenario,lang", KEYS, ids=IDS)
def test_no_dollar_left_unrendered(pages, browser, scenario, lang):
    page_of(pages, scenario, lang)
    dom = read_dom(result(browser, "dom", scenario, lang).decode("utf-8"))
    text = "".join(dom.text)
    assert "$" not in text, text[max(0, text.find("$") - 80):text.find("$") + 80]


@pytest.mark.parametrize("scenario,lang", KEYS, ids=IDS)
def test_nothing_loaded_from_outside(pages, browser, scenario, lang):
    page_of(pages, scenario, lang)
    dom = result(browser, "dom", scenario, lang).decode("utf-8")
    assert f'<html lang="{lang}">' in dom
    assert external_references(dom) == []
    assert len(re.findall(r"<script\b", dom)) == 2, "no script but the page's own two"


@pytest.mark.parametrize("scenario,lang", SCREENSHOT_PAGES, ids=[f"{s}-{lang}" for s, lang in SCREENSHOT_PAGES])
def test_screenshot_is_not_blank(pages, browser, scenario, lang):
    """``--screenshot`` itself works (the phone checks below use the DevTools screenshot, which is faster)."""
    page_of(pages, scenario, lang)
    assert_not_blank(decode_png(result(browser, "shot", scenario, lang)), SCREENSHOT)


@pytest.mark.parametrize("scenario,lang", KEYS, ids=IDS)
def test_page_fits_a_phone(pages, browser, scenario, lang):
    """On a 420 px phone screen nothing makes the whole page scroll sideways (wide tables, equations and graphs
    scroll inside their own boxes), and the screenshot shows the page."""
    page_of(pages, scenario, lang)
    width, png = result(browser, "phone", scenario, lang)
    assert width <= PHONE[0]
    assert_not_blank(decode_png(png), PHONE)


def assert_not_blank(image, size) -> None:
    import numpy as np

    assert image.shape[:2] == (size[1], size[0])
    rgb = image[:, :, :3].astype(float)
    ink = (rgb.mean(axis=2) < 128).mean()  # dark pixels: text, rules, the graph
    assert rgb.std() > 10 and 0.002 < ink < 0.5, (rgb.std(), ink)
    packed = image[:, :, 0].astype(np.uint32) << 16 | image[:, :, 1].astype(np.uint32) << 8 | image[:, :, 2]
    assert np.unique(packed).size > 16, "more than a few flat colours"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_japanese_glyphs_are_drawn(pages, browser, scenario):
    page = page_of(pages, scenario, "ja")
    assert CJK.search(page.html), "the Japanese page has Japanese text"
    shot = decode_png(result(browser, "phone", scenario, "ja")[1])
    variant = decode_png(result(browser, "variant", scenario, "ja")[1])
    assert shot.shape == variant.shape
    changed = (shot != variant).any(axis=2).sum()
    assert changed > 1000, "kana and kanji are drawn as identical boxes: no CJK font (install fonts-noto-cjk)"


def test_tofu_probe_sees_missing_fonts(browser):
    """The control: with only DejaVu fonts, a Japanese page and its 一-variant render pixel-identical, so the probe
    above fails when fonts-noto-cjk is missing."""
    if ("control", "page") not in browser:
        if IN_CI:
            pytest.fail("no Japanese page rendered or no DejaVu fonts: the tofu probe cannot be checked")
        pytest.skip("no Japanese page rendered or no DejaVu fonts")
    page = decode_png(result(browser, "control", "page")[1])
    variant = decode_png(result(browser, "control", "variant")[1])
    assert (page == variant).all()


def test_chromium_runs_in_parallel(browser):
    """Not a check of the pages: a record of what the browser runs cost (shown with ``pytest -rA``)."""
    print(f"{browser['runs']} chromium processes ({browser['visits']} DevTools visits) in "
          f"{browser['seconds']:.1f} s with {WORKERS} workers")
    assert browser["runs"] > 0


# --- maths conversion ------------------------------------------------------------------------------------------

PRINTED = [
    r"\frac{\partial f}{\partial t} = 2 \cdot t",
    r"\left(-4\right) \cdot \left(-1\right) = 4",
    r"w \leftarrow - \eta \cdot \frac{\partial f}{\partial w} + w",
    r"\sigma\left(z\right) \cdot \left(1 - \sigma\left(z\right)\right)",
    r"\operatorname{ReLU}\left(x\right)",
    r"\mathbb{1}\left[x > 0\right]",
    r"\log{\left(y \right)}",
    r"\left[\begin{matrix}1 & 2\\3 & 4\end{matrix}\right]",
    r"\mathrm{apple\_num}",
    r"y' = {z^{2}_{1}}'",
    r"z^{2}_{1} + \delta^{3}_{j} + w^{l}_{ji}",
    r"\hat{y} - \frac{1}{3}",
    r"\operatorname{softmax}_{1}\left(z_{1}, z_{2}\right)",
    r"1.5 \times 10^{-7}",
    r"\mathrm{relu}'(0) = 0",
    r"\sum_{k=1}^{K} e^{z_{k}}",
    r"\sqrt{x} + \tanh{\left(x \right)}",
]


@pytest.mark.parametrize("latex", PRINTED)
def test_every_printed_construct_converts(latex):
    import xml.etree.ElementTree as ElementTree

    from derive.present.html import latex_to_mathml

    for display in (False, True):
        mathml = latex_to_mathml(latex, display)
        ElementTree.fromstring(mathml)
        shown = re.sub(r"<annotation\b.*?</annotation>", "", mathml)
        assert "\\" not in shown and "&" not in shown.replace("&#x", ""), shown
        assert ('display="block"' in mathml) == display


def test_aligned_and_boxed_are_drawable():
    from derive.present.html import latex_to_mathml

    aligned = latex_to_mathml(r"\begin{aligned} a &= b \\ c &= d \end{aligned}", True)
    assert "<mtable" in aligned and "<mi>&</mi>" not in aligned
    assert '<menclose notation="box">' in latex_to_mathml(r"\boxed{x = 1}")
    from derive.present.render import templates_root
    assert 'menclose[notation~="box"]' in (templates_root() / "html" / "style.css").read_text(encoding="utf-8")


def test_unary_minus_primes_and_fences():
    from derive.present.html import latex_to_mathml

    assert '<mo form="prefix">&#x02212;</mo><mi>y</mi>' in latex_to_mathml("s = - y")
    assert "<msup>" not in latex_to_mathml("y'"), "a prime follows its base"
    plain = latex_to_mathml(r"2 \cdot \left(b + x\right)")
    assert 'stretchy="true"' not in plain
    assert 'stretchy="true"' in latex_to_mathml(r"\left(\frac{1}{2}\right)")


def test_prose_is_escaped_and_code_keeps_dollars():
    from derive.present.html import markdown_to_html

    body = markdown_to_html("Text <script>alert(1)</script> & <b>bold</b> $x < y$\n\n```text\na = $b\n```\n\n"
                            "An autolink <https://example.org> stays text.\n")
    assert "<script" not in body and "&lt;script&gt;" in body and "&lt;b&gt;" in body and "&amp; " in body
    assert "a = $b" in body and body.count("<math") == 1
    assert 'href="https://' not in body


# --- user templates ----------------------------------------------------------------------------------------------

def test_user_templates_override_the_shell_and_style(tmp_path):
    from derive.present.render import render
    from derive.scenarios import build

    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "style.css").write_text("body { color: teal; }\n", encoding="utf-8")
    (tmp_path / "html" / "page.html.j2").write_text(
        '<!DOCTYPE html>\n<html lang="{{ lang }}"><head><title>{{ title }}</title><style>{{ css }}</style>'
        "</head><body class=mine>{{ body }}</body></html>\n", encoding="utf-8")
    html = render(build("toast"), "html", "en", user_templates=str(tmp_path))
    assert "<body class=mine>" in html and "color: teal" in html and "<math" in html
    assert "<script>" not in html, "a shell of the user's without the script: the page stays static"


def test_explain_pages_get_a_step_through_only_with_a_graph(tmp_path):
    """A symbolic walk-through steps through its formulas; a graph too large to draw has no step-through and no
    script."""
    from derive.cli import main

    symbolic, large = tmp_path / "symbolic.html", tmp_path / "large.html"
    assert main(["explain", "p = w*x; f = (p - t)**2", "--format", "html", "-o", str(symbolic)]) == 0
    page = symbolic.read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" class="step-data">(.*?)</script>', page,
                                flags=re.DOTALL).group(1))
    assert [state["node"] for state in data["steps"]] == [None, "f", "u1", "p"]
    assert page.count('<template class="step-state">') == 4 and "<script>" in page
    assert main(["explain", "+".join(f"x{i}" for i in range(40)), "--format", "html", "-o", str(large)]) == 0
    page = large.read_text(encoding="utf-8")
    assert 'class="stepthrough"' not in page and "<script" not in page and "<svg" not in page


# --- the gallery's index -----------------------------------------------------------------------------------------

def index_entries():
    entries = []
    for s in SCENARIOS:
        for lang in LANGUAGES:
            entries += [(s, "markdown", lang, f"{s}/{lang}.md"), (s, "html", lang, f"{s}/{lang}.html"),
                        (s, "latex", lang, f"{s}/{lang}.tex"), (s, "beamer", lang, f"{s}/{lang}-slides.tex"),
                        (s, "pdf", lang, f"{s}/{lang}.pdf")]
        entries.append((s, "json", None, f"{s}/{s}.json"))
    return entries


@pytest.mark.parametrize("lang", LANGUAGES)
def test_index_links_every_file_relatively(lang):
    from derive.present.context import catalog
    from derive.present.html import build_index

    entries = index_entries()
    html = build_index(entries, lang)
    assert f'<html lang="{lang}">' in html and external_references(html) == []
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert sorted(hrefs) == sorted(e[3] for e in entries)
    positions = [html.index(f'id="{s}"') for s in SCENARIOS]
    assert positions == sorted(positions), "grouped by scenario, in the catalogue's order"
    for s in SCENARIOS:
        title = catalog(lang).get(f"scenario.{s}.title") or catalog("en").get(f"scenario.{s}.title")
        if title:
            from html import escape
            assert escape(title, quote=False) in html
    assert build_index(list(reversed(entries)), lang) == html, "deterministic whatever the order given"


def test_index_refuses_absolute_links():
    from derive.present.html import build_index

    with pytest.raises(ValueError):
        build_index([("toast", "html", "en", "https://example.org/toast.html")])
    with pytest.raises(ValueError):
        build_index([("toast", "html", "en", "/abs/toast.html")])


# --- the step-through of the graph ------------------------------------------------------------------------------
# One DevTools browser walks every page at a desktop and a phone width: it focuses the step-through, presses the
# arrow keys through every state, reads the DOM after each press, clicks the buttons, and screenshots the widget.
# What it reads is compared with the derivation: the oracle below restates the rule from the gradients' parts
# (a gradient is written once each node it is summed from has been processed), not from the page's data.

STEP_WIDTHS = (1280, 390)
STEP_HEIGHT = 900
STEP_KEYS = [(s, lang, w) for s, lang in KEYS for w in STEP_WIDTHS]
STEP_IDS = [f"{s}-{lang}-{w}" for s, lang, w in STEP_KEYS]
HIGHLIGHT = (255, 230, 128)  # figure_svg.HIGHLIGHT, the current node and the halo of this step's gradients
LEGIBLE_PX = 12 * 0.8 - 0.05  # a gradient label (12 SVG units) at the step-through's smallest scale

READ_STATE = r"""(() => {
  const root = document.querySelector('.stepthrough');
  const svg = document.getElementById(root.getAttribute('data-figure'));
  const scale = svg.getScreenCTM().a;
  const span = (element) => { const r = element.getBoundingClientRect(); return [r.left, r.right]; };
  const words = (element) => {
    const copy = element.cloneNode(true);
    copy.querySelectorAll('annotation').forEach((a) => a.remove());
    return copy.textContent.replace(/\s+/g, ' ').trim();
  };
  const panel = root.querySelector('.step-panel');
  return {
    state: root.getAttribute('data-state'),
    current: [...svg.querySelectorAll('circle[data-node]')]
      .filter((c) => getComputedStyle(c).fill === 'rgb(255, 230, 128)')
      .map((c) => ({node: c.getAttribute('data-node'), span: span(c)})),
    labels: [...svg.querySelectorAll('[data-grad]')]
      .filter((t) => getComputedStyle(t).visibility !== 'hidden')
      .map((t) => ({owner: t.getAttribute('data-grad'), to: t.getAttribute('data-to'), text: t.textContent,
                    fresh: getComputedStyle(t).stroke !== 'none', px: parseFloat(getComputedStyle(t).fontSize) * scale,
                    span: span(t)})),
    owners: [...new Set([...svg.querySelectorAll('[data-grad]')].map((t) => t.getAttribute('data-grad')))],
    texts: [...svg.querySelectorAll('text')].map((t) => t.textContent),
    figure: span(svg.parentNode),
    overflow: svg.parentNode.scrollWidth - svg.parentNode.clientWidth,
    svg: span(svg),
    page: document.documentElement.scrollWidth,
    status: words(root.querySelector('.step-status')),
    statusShown: !root.querySelector('.step-status').hidden,
    panel: [...panel.querySelectorAll('math[display="block"] annotation')].map((a) => a.textContent),
    panelText: words(panel),
    controls: !root.querySelector('.step-controls').hidden,
    disabled: [...root.querySelectorAll('button[data-action]')]
      .filter((b) => b.getAttribute('aria-disabled') === 'true').map((b) => b.getAttribute('data-action')),
    focused: root.contains(document.activeElement),
  };
})()"""

WIDGET_BOX = """(() => { const widget = document.querySelector('.stepthrough'); widget.scrollIntoView();
  const r = widget.getBoundingClientRect();
  return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: Math.min(r.height, innerHeight)}; })()"""


def button_centre(action: str) -> str:
    return (f"(() => {{ const b = document.querySelector('.stepthrough button[data-action=\"{action}\"]'); "
            "b.scrollIntoView({block: 'center'}); const r = b.getBoundingClientRect(); "
            "return [r.left + r.width / 2, r.top + r.height / 2]; })()")


def walk_steps(tools: DevTools, url: str, width: int, folder: Path, name: str) -> dict:
    """Every state by the arrow keys, then End, Home, ArrowLeft at the start, the buttons by mouse; screenshots."""
    target, session = tools.open(url, (width, STEP_HEIGHT), mobile=width < 500)
    try:
        read = lambda: tools.evaluate(READ_STATE, session)  # noqa: E731
        count = tools.evaluate("JSON.parse(document.querySelector('.step-data').textContent).steps.length", session)
        shots = {}

        def shoot(label: str) -> None:
            png = tools.screenshot(session, tools.evaluate(WIDGET_BOX, session))
            (folder / f"{name}-{label}.png").write_bytes(png)
            shots[label] = png

        tools.evaluate("document.querySelector('.stepthrough').focus()", session)
        states = [read()]
        shoot("start")
        for k in range(1, count):
            tools.press("ArrowRight", session)
            states.append(read())
            if k == 1:
                shoot("step1")
        shoot("last")
        tools.press("ArrowRight", session)
        moves = {"right at the end": read()}
        tools.press("Home", session)
        moves["Home"] = read()
        tools.press("ArrowLeft", session)
        moves["left at the start"] = read()
        tools.press("End", session)
        moves["End"] = read()
        for action in ("reset", "next", "next", "previous"):
            tools.click(*tools.evaluate(button_centre(action), session), session)
            moves[f"click {action}"] = read()
        tools.press("ArrowRight", session)  # the focus is on a button inside: the keys still work
        moves["right after a click"] = read()
        return {"states": states, "moves": moves, "shots": shots}
    finally:
        tools.send("Target.closeTarget", {"targetId": target})


def static_view(tools: DevTools, url: str) -> dict:
    """The page at the desktop width with scripts switched off."""
    target, session = tools.open(url, (STEP_WIDTHS[0], STEP_HEIGHT), mobile=False, scripts=False)
    try:
        return tools.evaluate(READ_STATE, session)
    finally:
        tools.send("Target.closeTarget", {"targetId": target})


@pytest.fixture(scope="session")
def stepthrough(pages, tmp_path_factory) -> dict:
    """Every page's step-through walked in one DevTools browser (results, or the exception of a failed walk)."""
    binary = require_tool("chromium")
    folder = tmp_path_factory.mktemp("stepthrough")
    results: dict = {"folder": folder}
    start = time.perf_counter()
    tools = DevTools(binary)
    try:
        for (scenario, lang), page in pages.items():
            if page.error:
                continue
            for width in STEP_WIDTHS:
                try:
                    results[scenario, lang, width] = walk_steps(tools, page.path.as_uri(), width, folder,
                                                                f"{scenario}-{lang}-{width}")
                except Exception as error:  # noqa: BLE001 - reported by the tests of this page
                    results[scenario, lang, width] = error
            try:
                results["static", scenario, lang] = static_view(tools, page.path.as_uri())
            except Exception as error:  # noqa: BLE001
                results["static", scenario, lang] = error
    finally:
        tools.close()
    results["seconds"] = time.perf_counter() - start
    return results


_WALKS: dict[str, object] = {}


def walk_of(scenario: str):
    from derive.scenarios import build
    return _WALKS.get(scenario) or _WALKS.setdefault(scenario, build(scenario))


def expected_states(walk) -> list[tuple[str | None, set[str]]]:
    """(the node processed, the nodes whose gradients are written) at the start and after each printed step."""
    d = walk.derivation
    shown = walk.fold.shown if walk.fold is not None else None
    done: set[str] = set()
    states: list[tuple[str | None, set[str]]] = [(None, {d.output})]
    for step in d.steps:
        done.add(step.node)
        if shown is None or step.node in shown:
            complete = {name for name, g in d.gradients.items() if g.parts and all(p.reader in done for p in g.parts)}
            states.append((step.node, {d.output} | complete))
    return states


def label_text(value) -> str:
    """A number as the figure writes it (the value comes from the derivation, the writing from the figure's rule)."""
    from derive.notation import number_text, text_latex
    from derive.present import mathtext
    return mathtext.plain(mathtext.read(text_latex(number_text(value))))


def expected_label(walk, owner: str, to: str | None) -> str:
    d = walk.derivation
    if owner == d.output and to is None:
        return label_text(1)
    gradient = d.gradients[owner]
    if to is None or len(gradient.parts) == 1:
        return label_text(gradient.value)
    return label_text({p.reader: p.value for p in gradient.parts}[to])


def step_run(stepthrough, scenario: str, lang: str, width: int) -> dict:
    value = stepthrough.get((scenario, lang, width))
    if value is None:
        pytest.fail(f"no step-through run for {scenario} ({lang}) at {width} px")
    if isinstance(value, Exception):
        pytest.fail(f"the step-through run of {scenario} ({lang}) at {width} px failed: {value}")
    return value


@pytest.mark.parametrize("scenario,lang,width", STEP_KEYS, ids=STEP_IDS)
def test_stepthrough_follows_the_derivation(pages, stepthrough, scenario, lang, width):
    """At each state: the node of the printed step highlighted (none at the start), exactly the gradients known by
    then written on the graph with the derivation's numbers, this step's marked, the step's title, rule and
    products beside the graph."""
    from derive.locales import catalog
    from derive.present.context import build_context

    page_of(pages, scenario, lang)
    run = step_run(stepthrough, scenario, lang, width)
    walk = walk_of(scenario)
    expected = expected_states(walk)
    steps = build_context(walk, lang)["steps"]
    t = catalog(lang)
    assert len(run["states"]) == len(expected) == len(steps) + 1
    previous: set[str] = set()
    for k, (state, (node, known)) in enumerate(zip(run["states"], expected)):
        where = f"state {k}"
        assert state["state"] == str(k) and state["controls"] and state["statusShown"] and state["focused"], where
        assert [c["node"] for c in state["current"]] == ([] if node is None else [node]), where
        labelled = set(state["owners"])
        assert {label["owner"] for label in state["labels"]} == known & labelled, where
        for label in state["labels"]:
            assert label["text"] == expected_label(walk, label["owner"], label["to"]), (where, label)
            assert label["fresh"] == (label["owner"] not in previous), (where, label)
        previous = known
        if node is None:
            assert state["status"] == t["html.steps.start"], where
            assert state["panel"] == [] and "1" in state["panelText"], where
            continue
        step = steps[k - 1]
        assert step["node"] == node
        assert state["status"].startswith(t["html.steps.status"].format(step=k, steps=len(steps))), where
        assert state["status"].endswith(step["rule_name"]), (where, state["status"])
        assert state["panel"] == [step["definition"]] + [term["product"] for term in step["terms"]], where
    last = str(len(steps))
    two = min(2, len(steps))  # "next" twice stops at the last step (softmax's folded page prints one)
    moves = {name: state["state"] for name, state in run["moves"].items()}
    assert moves == {"right at the end": last, "Home": "0", "left at the start": "0", "End": last,
                     "click reset": "0", "click next": str(two), "click previous": str(two - 1),
                     "right after a click": str(min(two, len(steps)))}
    assert run["states"][0]["disabled"] == ["reset", "previous"] and run["states"][-1]["disabled"] == ["next"]


@pytest.mark.parametrize("scenario,lang,width", STEP_KEYS, ids=STEP_IDS)
def test_stepthrough_keeps_the_step_in_view_and_legible(pages, stepthrough, scenario, lang, width):
    """The graph never makes the page scroll sideways; at every step the current node and the gradients it writes
    are inside the figure's box and drawn at a readable size (a wide graph is shown around the current node)."""
    page_of(pages, scenario, lang)
    for k, state in enumerate(step_run(stepthrough, scenario, lang, width)["states"]):
        assert state["page"] <= width and state["overflow"] <= 0, f"state {k} scrolls sideways"
        left, right = state["figure"]
        node = state["current"][0]["node"] if state["current"] else None
        for thing in state["current"] + [label for label in state["labels"] if node and label["to"] == node]:
            assert left - 0.5 <= thing["span"][0] and thing["span"][1] <= right + 0.5, (k, thing, state["figure"])
        for label in state["labels"]:
            assert label["px"] >= LEGIBLE_PX, (k, label)


@pytest.mark.parametrize("scenario,lang,width", STEP_KEYS, ids=STEP_IDS)
def test_stepthrough_screenshots(pages, stepthrough, scenario, lang, width):
    """What a reader sees: the widget drawn, the current node in yellow from the first step on, each press
    changing the picture."""
    import numpy as np

    page_of(pages, scenario, lang)
    run = step_run(stepthrough, scenario, lang, width)
    shots = {name: decode_png(png) for name, png in run["shots"].items()}
    for name, image in shots.items():
        assert image.shape[1] <= width and image.shape[0] > 100, name
        rgb = image[:, :, :3].astype(int)
        assert rgb.std() > 10 and (rgb.mean(axis=2) < 128).mean() > 0.002, f"{name} looks blank"
        yellow = (np.abs(rgb - np.array(HIGHLIGHT)).sum(axis=2) < 24).sum()
        assert yellow > 40, f"{name}: no highlight drawn"
    assert shots["start"].shape != shots["step1"].shape or (shots["start"] != shots["step1"]).any()
    if len(run["states"]) > 2:  # a page printing one backward step has its first step as its last
        assert shots["step1"].shape != shots["last"].shape or (shots["step1"] != shots["last"]).any()


@pytest.mark.parametrize("scenario,lang", KEYS, ids=IDS)
def test_static_page_without_script(pages, stepthrough, scenario, lang):
    """Without JavaScript: no controls, every gradient on the graph, the graph scaled into the text column (no
    sideways scrolling at 1280 px)."""
    page_of(pages, scenario, lang)
    state = stepthrough.get(("static", scenario, lang))
    if isinstance(state, Exception) or state is None:
        pytest.fail(f"the static view failed: {state}")
    assert not state["controls"] and not state["statusShown"] and state["current"] == []
    assert {label["owner"] for label in state["labels"]} == set(state["owners"])
    assert state["overflow"] <= 0 and state["page"] <= STEP_WIDTHS[0]
    assert state["figure"][0] <= state["svg"][0] and state["svg"][1] <= state["figure"][1]
    for text in state["texts"]:  # the document's notation: w²₁₁ as maths, a real minus; no raw names or "**"
        assert not re.search(r"[-^_*]", text), text


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_step_data_follows_the_derivation(scenario):
    """The page's data, without a browser: the start, then one state per printed step, with the gradients known
    then (the oracle restates the rule from the gradients' parts); those new in each state; every gradient written
    by the end when every step is printed."""
    from derive.present.stepthrough import step_data

    walk = walk_of(scenario)
    d = walk.derivation
    data = step_data(d, "en", walk.fold.shown if walk.fold is not None else None)
    expected = expected_states(walk)
    constants = set(d.constants)
    assert [(s["node"], set(s["known"])) for s in data["steps"]] == [(n, k - constants) for n, k in expected]
    seen: set[str] = set()
    for state in data["steps"]:
        assert set(state["fresh"]) == set(state["known"]) - seen
        seen = set(state["known"])
    if walk.fold is None:
        assert seen == {n.name for n in d.graph.nodes} - constants


def test_stepthrough_timing(stepthrough):
    """Not a check of the pages: what the walks cost, and where the screenshots are (``pytest -rA``)."""
    print(f"step-through walks in {stepthrough['seconds']:.1f} s; screenshots in {stepthrough['folder']}")
    assert stepthrough["seconds"] > 0
