"""Dataset values quoted in Markdown messages render as written: no links, images, styling or HTML."""

from __future__ import annotations

from markdown_it import MarkdownIt

from pipelines.core.markdown import escape_markdown
from tests.hostile import HOSTILE, assert_shown_as_text


def test_values_render_as_written() -> None:
    value = "![x](http://evil.example/p.png) <b>*bold*</b> :red[alarm] `code` #1 | 1. [a](b) $x$"
    html = MarkdownIt().render(f"Class {escape_markdown(value)!s} has 2 golden items.")
    assert "<img" not in html and "<a " not in html and "<b>" not in html and "<em>" not in html
    assert "<code>" not in html
    assert "![x](http://evil.example/p.png)" in html.replace("&lt;", "<").replace("&gt;", ">")


def test_hostile_text_renders_as_written_inside_a_message() -> None:
    assert_shown_as_text(f"Rejected. {escape_markdown(HOSTILE)} Nothing was published.")
    assert_shown_as_text(escape_markdown("a heading?\n===\n# no"), "a heading?\n===\n# no")
