"""Untrusted text inside Markdown: dataset values quoted in messages that pages and Prefect render as Markdown."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=&])")


def escape_markdown(text: str) -> str:
    """`text` with every Markdown special character backslash-escaped, so it renders as written.

    Escaping `:` keeps Streamlit from turning `:red[...]` or `:material/...:` into styling or icons; escaping
    brackets and parentheses keeps a value from becoming a link or an image the viewer's browser would fetch;
    escaping `<` keeps `<script>` and other tags text; `=` (a line of them makes a heading) and `&` (`&lt;` would
    show as `<`) keep the text shown equal to the text given.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
