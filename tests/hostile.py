"""Hostile text for tests, and the check that Markdown shows it as written: no image, link or HTML tag."""

from __future__ import annotations

from markdown_it import MarkdownIt

# Each short enough for a table preview's cells (30 characters), so it is shown whole there too.
HOSTILE_PARTS = ("![x](http://a.invalid/p.png)", "[link](javascript:alert(1))", "<script>alert(1)</script>",
                 "<b>bold</b> &lt;i&gt; =1+1")
HOSTILE = "![x](http://example.invalid/p.png) " + " ".join(HOSTILE_PARTS)
ACTIVE_TOKENS = {"image", "link_open", "html_inline", "html_block"}


def rendered(markdown: str) -> tuple[set[str], str]:
    """The active elements (images, links, HTML) CommonMark makes of `markdown`, and the text it shows."""
    active: set[str] = set()
    shown: list[str] = []
    for block in MarkdownIt("commonmark").enable("table").parse(markdown):
        active |= {block.type} & ACTIVE_TOKENS
        for token in block.children or []:
            active |= {token.type} & ACTIVE_TOKENS
            if token.type in ("text", "code_inline"):
                shown.append(token.content)
            elif token.type in ("softbreak", "hardbreak"):
                shown.append("\n")
        if block.type in ("paragraph_close", "td_close", "th_close"):
            shown.append("\n")
    return active, "".join(shown)


def active_elements(markdown: str) -> list[str]:
    """Every image, link and HTML tag CommonMark makes of `markdown`, with its address or tag."""
    found = []
    for block in MarkdownIt("commonmark").enable("table").parse(markdown):
        for token in [block, *(block.children or [])]:
            if token.type in ACTIVE_TOKENS:
                found.append(f"{token.type} {token.attrs.get('src') or token.attrs.get('href') or token.content}")
    return found


def assert_shown_as_text(markdown: str, text: str = HOSTILE) -> None:
    """`markdown` renders with no image, link or HTML tag, and shows `text` exactly as given."""
    active, shown = rendered(markdown)
    assert not active, f"{sorted(active)} in {markdown!r}"
    assert text in shown, f"{text!r} not shown as written: {shown!r}"
