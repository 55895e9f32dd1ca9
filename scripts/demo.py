"""`make demo`: record the portal's main story (log in, report an incident, assign it, resolve it)
in Debian's Chromium as a short WebM, with a caption naming who acts, and keep a poster frame:
docs/demo/story.webm and docs/demo/poster.png. Offline, against a freshly seeded throwaway
database served on 127.0.0.1.

The story is the browser test's own (tests/browser/story.py): each scene runs between its
player's log in and log out as in story.run, with the scene's caption shown first. Playwright's
video recorder runs ffmpeg; Debian's ffmpeg stands in for the copy `playwright install` would
download, through a browsers folder of this run's own."""
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import playwright
from playwright.sync_api import Page, sync_playwright

from tests.browser import story
from tests.browser.live import CHROMIUM, CHROMIUM_ARGS, LiveServer, seeded_app

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "demo"
VIEWPORT = {"width": 1024, "height": 640}
SLOW_MO_MS = 180  # between browser actions, so that a person can follow
PAUSE_MS = 1400  # on each moment the story photographs (the filled form, the dashboard, ...)
POSTER = "resolve"  # the moment kept as the poster: the resolved incident and its timeline
FFMPEG = "/usr/bin/ffmpeg"
MAX_VIDEO_BYTES = 3_000_000  # it lives in the repository, linked from the README

# Shown on every page while it is set: an init script runs before the page's own scripts, so the
# Content-Security-Policy that forbids inline code does not apply; styles go through the CSSOM.
CAPTION_SCRIPT = """
(() => {
  const show = () => {
    const text = sessionStorage.getItem("demo-caption");
    if (!text || !document.body) return;
    let box = document.getElementById("demo-caption");
    if (!box) {
      box = document.createElement("div");
      box.id = "demo-caption";
      Object.assign(box.style, {position: "fixed", left: "16px", bottom: "16px", zIndex: "9999",
        padding: "8px 14px", borderRadius: "6px", background: "rgba(20, 24, 28, 0.85)",
        color: "#fff", font: "600 17px system-ui, sans-serif", pointerEvents: "none"});
      document.body.appendChild(box);
    }
    box.textContent = text;
  };
  window.demoCaption = show;
  document.addEventListener("DOMContentLoaded", show);
})();
"""


def ffmpeg_for_playwright(browsers: Path) -> None:
    """Put Debian's ffmpeg where Playwright's registry looks for its own, under `browsers`."""
    manifest = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    revision = next(entry["revision"] for entry in json.loads(manifest.read_text())["browsers"]
                    if entry["name"] == "ffmpeg")
    folder = browsers / f"ffmpeg-{revision}"
    folder.mkdir(parents=True)
    (folder / "ffmpeg-linux").symlink_to(FFMPEG)


def caption(page: Page, text: str) -> None:
    """Show `text` now and on every page after, until the next caption."""
    page.evaluate("text => { sessionStorage.setItem('demo-caption', text); window.demoCaption(); }", text)


def main() -> int:
    """Record the story once; print the files written."""
    if not os.path.exists(FFMPEG):
        print("ffmpeg is missing: make demo installs Debian's ffmpeg", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    logging.disable(logging.INFO)  # the server's request log; failures still show
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ffmpeg_for_playwright(work / "browsers")
        os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(work / "browsers")
        with LiveServer(seeded_app(work / "portal.db")) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, slow_mo=SLOW_MO_MS)
            context = browser.new_context(base_url=server.url, viewport=VIEWPORT,
                                          record_video_dir=work / "video", record_video_size=VIEWPORT)
            context.add_init_script(CAPTION_SCRIPT)
            page = context.new_page()

            def pause(name: str) -> None:
                page.wait_for_timeout(PAUSE_MS)
                if name == POSTER:
                    page.screenshot(path=OUT / "poster.png")

            story.fill_login(page, "reporter1")
            caption(page, "The incident portal: everyone logs in with their own account")
            page.wait_for_timeout(PAUSE_MS)
            for number, (username, name, scene) in enumerate(story.SCENES, start=1):
                caption(page, f"{number}/{len(story.SCENES)}  {scene.__doc__.split(';')[0].rstrip('.')}")
                story.log_in(page, username, name)
                scene(page, pause)
                story.log_out(page)
            video = page.video.path()
            context.close()
            browser.close()
            shutil.move(video, OUT / "story.webm")
    for path in (OUT / "story.webm", OUT / "poster.png"):
        print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size / 1e6:.2f} MB)")
    if (OUT / "story.webm").stat().st_size > MAX_VIDEO_BYTES:
        print(f"story.webm is over {MAX_VIDEO_BYTES / 1e6:.0f} MB: shorten the pauses or the viewport", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
