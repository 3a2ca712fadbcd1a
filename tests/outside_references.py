"""What an HTML page would load from outside itself: the http(s) URLs of its scripts, styles,
images and frames (a link the reader may follow, <a href>, loads nothing and is allowed)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

URL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+[^\s\"'()<>]*")  # //cdn.example/x loads over the page's scheme
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
CSS_LOADS = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"]?)((?:https?:)?//[^\s\"')]+)", re.I)


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.inside: str | None = None  # script or style

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if not value:
                continue
            if name in ("src", "href", "data", "poster", "srcset") and tag != "a" and URL.match(value.strip()):
                self.found.append(f"<{tag} {name}={value}>")
            elif name == "style":
                self.found += [f"<{tag} style> {url}" for url in CSS_LOADS.findall(value)]
        if tag in ("script", "style"):
            self.inside = tag

    def handle_endtag(self, tag):
        if tag == self.inside:
            self.inside = None

    def handle_data(self, data):
        if self.inside == "script":  # an import("https://...") or a loader's URL in a script's code
            self.found += [f"<script> {url}" for url in re.findall(r"https?://[^\s\"'`)]+", data)]
        elif self.inside == "style":
            self.found += [f"<style> {url}" for url in CSS_LOADS.findall(CSS_COMMENT.sub("", data))]


def outside_references(page: str) -> list[str]:
    scanner = _Scanner()
    scanner.feed(page)
    scanner.close()
    return scanner.found
