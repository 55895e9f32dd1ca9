"""/docs: the OpenAPI document as a readable page, rendered on the server (no CDN, no script)."""
import re

from flask import render_template
from markupsafe import Markup, escape

from app.api import bp
from app.api.openapi import HTTP_METHODS, document


def resolve(doc: dict, node: dict) -> dict:
    """Follow a local `$ref` (one level is all this document uses)."""
    ref = node.get("$ref") if isinstance(node, dict) else None
    if not ref:
        return node
    target = doc
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target


def inline(text: str) -> Markup:
    """The document's light markdown inside one paragraph: `code` and **bold**."""
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    # Safe: the text was escaped first; only the two tags added here are markup.
    return Markup(re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html))  # noqa: S704


def blocks(text: str) -> list[tuple[str, list[str]]]:
    """Paragraphs and bullet lists of a description, as ("p", [text]) or ("ul", [items])."""
    out = []
    for chunk in (text or "").strip().split("\n\n"):
        if chunk.startswith("* "):
            items = [" ".join(item.split()) for item in chunk[2:].split("\n* ")]
            out.append(("ul", items))
        else:
            out.append(("p", [" ".join(chunk.split())]))
    return out


@bp.route("/docs")
def docs():
    """The API reference page."""
    doc = document()
    return render_template("api/docs.html", doc=doc, methods=HTTP_METHODS, resolve=lambda n: resolve(doc, n),
                           inline=inline, blocks=blocks)
