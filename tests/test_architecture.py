"""The import rules of docs/architecture.md, checked on every module of app/: each part imports
only from its own layer or below, the domain never reaches for a request, and no interface
imports another interface."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Layers, lowest first. A module belongs to the longest prefix listed here; one that matches none
# fails `test_every_module_has_a_layer`, so a new module is placed on purpose.
LAYERS = {
    "foundation": ["config", "app.extensions", "app.exceptions", "app.times", "app.unset"],
    "vocabulary": ["app.incidents.enums", "app.incidents.references", "app.auth.roles", "app.auth.usernames",
                   "app.mail.enums"],
    "data": ["app.models", "app.database"],
    "rules": ["app.incidents.lifecycle", "app.incidents.validation", "app.auth.emails", "app.incidents.calendar",
              "app.incidents.clocks", "app.incidents.priority"],
    "domain": ["app.incidents", "app.auth.service", "app.auth.recovery", "app.auth.credentials",
               "app.auth.throttle", "app.auth.two_factor",
               "app.mail.outbox", "app.mail.delivery", "app.mail.sender", "app.backup",
               "app.mail.inbound", "app.webhooks"],
    "interface": ["app.web", "app.api", "app.auth", "app.mail.views", "app.mail.cli", "app.mail.inbound_cli",
                  "app.webhooks.cli", "app.cli", "app.sla_cli",
                  "app.errors", "app.urls", "app.caching", "app.security", "app.proxies", "seed"],
    "factory": ["app"],
}
ORDER = list(LAYERS)
# Interfaces sit side by side: each reaches the domain, never another interface's views.
INTERFACES = ["app.web", "app.api", "app.auth.routes", "app.mail.views"]
# What the domain must not touch: the request, and the ways a view answers. (Rendering a mail's
# templates and its absolute links is the domain's own work: notifications write the outbox.)
REQUEST_ONLY = {"request", "session", "flash", "abort", "redirect", "make_response", "g"}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def layer_of(module: str) -> str | None:
    best = None
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[1])):
                best = (layer, prefix)
    return best[0] if best else None


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import in the file, at any depth (lazy imports count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def project_targets(module: str, names: list[str]) -> list[str]:
    """The project modules an import statement reaches: `from app.x import y` is `app.x.y` when
    y is a module, else `app.x`."""
    if module.split(".")[0] not in {"app", "config", "seed"}:
        return []
    targets = []
    for name in names or [""]:
        candidate = f"{module}.{name}" if name else module
        as_path = ROOT / candidate.replace(".", "/")
        targets.append(candidate if as_path.with_suffix(".py").exists() or as_path.is_dir() else module)
    return targets


SOURCES = sorted((ROOT / "app").rglob("*.py"))


def test_every_module_has_a_layer():
    """A new module is placed in a layer on purpose (add it to LAYERS and docs/architecture.md)."""
    assert [module_name(p) for p in SOURCES if layer_of(module_name(p)) is None] == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_point_down(path):
    """No module imports from a layer above its own."""
    module = module_name(path)
    mine = ORDER.index(layer_of(module))
    upward = [target for imported, names in imports_of(path) for target in project_targets(imported, names)
              if layer_of(target) is not None and ORDER.index(layer_of(target)) > mine]
    assert upward == [], f"{module} ({ORDER[mine]}) imports from above: {upward}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_interfaces_do_not_import_each_other(path):
    """The web pages, the API, the login pages and the outbox page each call the domain, not each other."""
    module = module_name(path)
    own = [i for i in INTERFACES if module == i or module.startswith(i + ".")]
    if not own:
        return
    others = [target for imported, names in imports_of(path) for target in project_targets(imported, names)
              for i in INTERFACES if i not in own and (target == i or target.startswith(i + "."))]
    assert others == [], f"{module} imports another interface: {others}"


@pytest.mark.parametrize("path", [p for p in SOURCES if layer_of(module_name(p)) in ("vocabulary", "data", "rules",
                                                                                       "domain")],
                         ids=lambda p: module_name(p))
def test_domain_never_touches_the_request(path):
    """Services take plain arguments and raise domain errors; answering HTTP is the interfaces' job."""
    used = {name for imported, names in imports_of(path) if imported == "flask" for name in names}
    assert used & REQUEST_ONLY == set()


def test_rules_are_pure():
    """The lifecycle table and validation import only the vocabulary: no database, no Flask."""
    for name in LAYERS["rules"]:
        path = ROOT / (name.replace(".", "/") + ".py")
        imported = {module for module, _ in imports_of(path)}
        assert {m.split(".")[0] for m in imported} - {"app", "collections", "dataclasses", "enum", "typing",
                                                       "re", "unicodedata", "email_validator",
                                                       "bisect", "datetime", "functools", "zoneinfo",
                                                       "math"} == set(), name
        assert all(layer_of(m) in (None, "foundation", "vocabulary", "rules") for m in imported if m.startswith("app"))


def test_the_checker_sees_an_upward_import(tmp_path):
    """The rules above can fail: a model importing the lifecycle is caught."""
    assert ORDER.index(layer_of("app.incidents.lifecycle")) > ORDER.index(layer_of("app.models"))
    assert project_targets("app.incidents", ["lifecycle"]) == ["app.incidents.lifecycle"]
    assert project_targets("app.incidents.lifecycle", ["Action"]) == ["app.incidents.lifecycle"]
