"""`make screenshots` for issue 16: the incident page with an internal note, attachments (an image
preview) and its watchers, saved as docs/screenshots/collaboration-detail.png.

The scene is the browser tests' own step (tests/browser/collaboration.py `detail_page`), which checks
the page before the picture; the server (uploads beside its database, in a tmp folder) and the browser
are set up as in scripts/screenshots.py."""
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser import collaboration
from tests.browser.live import CHROMIUM, CHROMIUM_ARGS, LiveServer, seeded_app

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}


def main() -> int:
    """Play the scene once with a camera; print the file written."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, LiveServer(seeded_app(Path(tmp) / "portal.db")) as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=server.url, viewport=VIEWPORT)

        def shoot(name: str) -> None:
            path = OUT / f"{name}.png"
            page.screenshot(path=path, full_page=True)
            print(f"wrote {path.relative_to(OUT.parent.parent)}")

        collaboration.detail_page(page, shoot)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
