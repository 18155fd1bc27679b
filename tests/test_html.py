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
KEYS = [(s, lang) for s in SCENARIOS for lang in LANGUAGES]
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
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": True}, session)
        self.send("Page.enable", {}, session)
        self.send("Page.navigate", {"url": url}, session)
        self._wait_for("Page.loadEventFired", session)
        width = self.send("Runtime.evaluate", {"expression": "document.documentElement.scrollWidth",
                                               "returnByValue": True}, session)["result"]["value"]
        # optimizeForSpeed: Chromium then filters every PNG row with "Up", which decode_png reads at numpy speed.
        png = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True},
                                         session)["data"])
        self.send("Target.closeTarget", {"targetId": target})
        return int(width), png

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
    assert "<style>" in html and "<script" not in html
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
    assert page.html.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">') == display
    assert page.html.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">') == inline


def test_html_is_deterministic(pages):
    from derive.present.render import render
    from derive.scenarios import build

    page = page_of(pages, "linear-model", "en")
    assert render(build("linear-model"), "html", "en") == page.html


# --- the pages in Chromium -------------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario,lang", KEYS, ids=IDS)
def test_browser_builds_mathml_for_every_equation(pages, browser, scenario, lang):
    page = page_of(pages, scenario, lang)
    dom = result(browser, "dom", scenario, lang).decode("utf-8")
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
    assert "<script" not in dom


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
