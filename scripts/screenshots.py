"""`make screenshots`: drive the main story in Debian's Chromium against a freshly seeded portal
and save PNGs of login, dashboard, create, assign, resolve and list in docs/screenshots/.

The story is the browser test's own (tests/browser/story.py), so every picture is of a step
that was also checked."""
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser import story
from tests.browser.live import CHROMIUM, CHROMIUM_ARGS, LiveServer, seeded_app

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


def take(scene, viewport: dict) -> int:
    """Play `scene(page, shoot)` once against a freshly seeded portal, with a camera; print each file written."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, LiveServer(seeded_app(Path(tmp) / "portal.db")) as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=server.url, viewport=viewport)

        def shoot(name: str) -> None:
            path = OUT / f"{name}.png"
            page.screenshot(path=path, full_page=True)
            print(f"wrote {path.relative_to(OUT.parent.parent)}")

        scene(page, shoot)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(take(story.run, VIEWPORT))
