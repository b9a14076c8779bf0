"""Strip long content from HTML and CSS, keeping the rest of the file.

What goes, in this order (each limit in `StripConfig`):

1. payloads of `data:` URIs (inline images, fonts): the `data:<type>,` prefix stays,
   so the markup still reads as markup;
2. other runs of base64 characters (embedded blobs, source maps);
3. bodies of long inline `<script>` and `<style>` elements (HTML only); the tags
   stay. Their content is raw text in HTML5, so the first `</script` ends it,
   which a regular expression finds exactly;
4. lines still longer than the line limit: minified code.

Stripping adds no placeholder: a training corpus should not learn markers
that no real file contains.
"""

import re

from heuristics.config import StripConfig

_DATA_URI = re.compile(r"(data:[a-z]+/[\w.+-]+[^,\"'()\s]*,)([^\"'()\s<>]+)", re.IGNORECASE)
_INLINE = re.compile(r"(<(script|style)\b[^>]*>)(.*?)(</\2\s*>)", re.IGNORECASE | re.DOTALL)


class HtmlCssStripper:
    def __init__(self, config: StripConfig) -> None:
        self.config = config
        self._base64 = re.compile(rf"[A-Za-z0-9+/]{{{config.max_base64_chars + 1},}}={{0,2}}")

    def strip(self, text: str, html: bool) -> str:
        """`text` without its long content; `html` enables the script/style rule."""
        text = _DATA_URI.sub(self._data_uri, text)
        text = self._base64.sub("", text)
        if html:
            text = _INLINE.sub(self._inline, text)
        return self._long_lines(text)

    def _data_uri(self, match: re.Match[str]) -> str:
        prefix, payload = match.group(1), match.group(2)
        return prefix if len(payload) > self.config.max_data_uri_chars else match.group(0)

    def _inline(self, match: re.Match[str]) -> str:
        if len(match.group(3)) <= self.config.max_inline_chars:
            return match.group(0)
        return match.group(1) + match.group(4)

    def _long_lines(self, text: str) -> str:
        limit = self.config.max_line_chars
        lines = text.split("\n")
        if max(map(len, lines)) <= limit:
            return text
        return "\n".join(line for line in lines if len(line) <= limit)
