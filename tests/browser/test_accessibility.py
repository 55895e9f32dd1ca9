"""axe-core over every page of the portal (tests/browser/pages.py: each page as each role that can
see it, error pages and forms sent back with errors too) in Debian's Chromium: no violation of
impact "serious" or "critical". The pages people spend the day on, and one of each other kind, are
checked again in dark mode (the system's colour scheme emulated: the portal follows it).

axe-core comes from the npm package in node_modules/ (`make axe`, pinned in package-lock.json),
never from a CDN. The portal's Content-Security-Policy allows no inline script, so the file is not
added as a <script> element: `page.evaluate(source)` runs it through the DevTools protocol, which
the page's CSP does not govern, and the page is tested under its real policy (a context with
`bypass_csp` would test a page no user sees, and hide CSP errors the suite watches for)."""
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page

from app import create_app
from tests.browser import pages

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe.min.js from node_modules; missing, the suite stops here and says how to get it."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is missing: {AXE} does not exist. Run `make axe` (npm ci installs the "
                    f"version package-lock.json pins).", pytrace=False)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """A seeded portal of this module's own, with a webhook, a reset link and a two-factor account."""
    with pages.serve(tmp_path_factory.mktemp("accessibility")) as served:
        yield served


def violations(page: Page, source: str) -> list[dict]:
    """axe's violations on the page as it is now (every rule axe runs by default)."""
    page.evaluate(source)
    assert page.evaluate("typeof window.axe") == "object", "axe-core did not load into the page"
    return page.evaluate("""async () => {
        const results = await window.axe.run(document, {resultTypes: ["violations"]});
        return results.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html, summary: n.failureSummary})),
        }));
    }""")


def readable(found: list[dict]) -> str:
    """The violations as a person fixing them wants to read them: rule, impact, where, why."""
    lines = []
    for violation in found:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})")
        for node in violation["nodes"][:10]:
            lines.append(f"    at {node['target']}: {node['html'][:200]}")
            lines.extend(f"        {line}" for line in (node["summary"] or "").splitlines())
        if len(violation["nodes"]) > 10:
            lines.append(f"    ... and {len(violation['nodes']) - 10} more")
    return "\n".join(lines)


def serious(found: list[dict]) -> list[dict]:
    """Only the violations that fail the suite."""
    return [violation for violation in found if violation["impact"] in FAILING_IMPACTS]


def test_every_html_page_is_in_the_list():
    """Each GET route that can answer a page is visited by the checks, or excluded with a reason."""
    app: Flask = create_app("testing")
    assert pages.unlisted_routes(app) == [], (
        "pages without an accessibility and phone check: add a Visit to tests/browser/pages.py "
        "(or an entry with the reason to EXCLUDED)")
    assert all(pages.endpoint_of(app, path) for path in ("/login", "/ui/incidents/1/edit", "/docs"))
    assert set(pages.EXCLUDED) <= {rule.endpoint for rule in app.url_map.iter_rules()}, \
        "EXCLUDED names a route that no longer exists"


def test_the_check_finds_a_violation(page: Page, browser: Browser, portal, axe_source):
    """The harness itself: an image without a text alternative put into a real page is reported."""
    portal.open(browser, page, pages.VISITS[0])
    page.evaluate("""() => {
        const image = document.createElement("img");
        image.src = "/static/does-not-matter.png";
        document.querySelector("main").append(image);
    }""")
    found = serious(violations(page, axe_source))
    assert [violation["id"] for violation in found] == ["image-alt"], readable(found)


@pytest.mark.parametrize("visit", pages.params(pages.VISITS))
def test_page_has_no_serious_violations(page: Page, browser: Browser, portal, axe_source, visit):
    """Every page as every role that can see it: no serious or critical axe violation."""
    portal.open(browser, page, visit)
    found = serious(violations(page, axe_source))
    assert not found, f"{visit.name} ({visit.url(portal)}):\n{readable(found)}"


@pytest.mark.parametrize("visit", pages.params(pages.DARK_VISITS))
def test_page_has_no_serious_violations_in_dark_mode(page: Page, browser: Browser, portal, axe_source, visit):
    """The main pages, and one of each other kind, with the system in dark mode (colour contrast is
    what changes)."""
    page.emulate_media(color_scheme="dark")
    portal.open(browser, page, visit)
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    found = serious(violations(page, axe_source))
    assert not found, f"{visit.name} in dark mode ({visit.url(portal)}):\n{readable(found)}"
