"""`make screenshots` for issue 16: the incident page with an internal note, attachments (an image
preview) and its watchers, saved as docs/screenshots/collaboration-detail.png.

The scene is the browser tests' own step (tests/browser/collaboration.py `detail_page`), which checks
the page before the picture; the server (uploads beside its database, in a tmp folder) and the browser
are scripts/screenshots.py's `take`."""
import sys

from screenshots import take  # scripts/ is the script's own folder, first on sys.path

from tests.browser import collaboration

VIEWPORT = {"width": 1280, "height": 900}

if __name__ == "__main__":
    sys.exit(take(collaboration.detail_page, VIEWPORT))
