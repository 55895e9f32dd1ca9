"""`make screenshots` for issue 16: the incident page with an internal note, attachments (an image
preview) and its watchers, saved as docs/screenshots/collaboration-detail.png.

The scene is the browser tests' own step (tests/browser/collaboration.py `detail_page`), which checks
the page before the picture; the server and browser are set up as in scripts/screenshots.py."""
import sys
import tempfile
from pathlib import Path

from flask import Flask
from playwright.sync_api import sync_playwright

from tests.browser import collaboration
from tests.browser.live import CHROMIUM, CHROMIUM_ARGS, LiveServer, seeded_app

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}


def main() -> int:
    """Play the scene once with a camera; print the file written."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = seeded_app(Path(tmp) / "portal.db")
        app.config["ATTACHMENT_DIR"] = str(Path(tmp) / "attachments")  # not the instance folder's store
        shoot_scene(app)
    return 0


def shoot_scene(app: Flask) -> None:
    """Serve `app`, drive Chromium through the scene, save its picture."""
    with LiveServer(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=server.url, viewport=VIEWPORT)

        def shoot(name: str) -> None:
            path = OUT / f"{name}.png"
            page.screenshot(path=path, full_page=True)
            print(f"wrote {path.relative_to(OUT.parent.parent)}")

        collaboration.detail_page(page, shoot)
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
