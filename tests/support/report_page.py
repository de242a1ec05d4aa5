"""The customer report read back the way a browser would: parsed HTML, not regular expressions.

:func:`parse` builds a small element tree with :mod:`html.parser`; tests then ask it what a
reader sees — the text of page 1 (``section.page1``) or the appendix, an element by id, the
``data-*`` facts charts and verdicts carry — and compare that with the record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, match: Callable[[Element], bool]) -> list[Element]:
        return [element for element in self.iter() if match(element)]

    def by_id(self, ident: str) -> Element | None:
        found = self.find_all(lambda e: e.attrs.get("id") == ident)
        return found[0] if found else None

    def by_class(self, name: str, tag: str | None = None) -> list[Element]:
        return self.find_all(
            lambda e: name in e.attrs.get("class", "").split() and (tag is None or e.tag == tag)
        )

    def text(self) -> str:
        """The element's visible text, whitespace collapsed (style and SVG left out)."""
        parts: list[str] = []

        def walk(node: Element | str) -> None:
            if isinstance(node, str):
                parts.append(node)
                return
            if node.tag in ("style", "script", "svg", "title") and node is not self:
                return
            if node.tag in ("br", "p", "li", "div", "tr", "h1", "h2", "h3", "dd", "dt"):
                parts.append(" ")
            for child in node.children:
                walk(child)

        walk(self)
        return re.sub(r"\s+", " ", "".join(parts)).strip()


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


@dataclass
class ReportPage:
    root: Element

    @property
    def page1(self) -> Element:
        (section,) = self.root.by_class("page1", "section")
        return section

    @property
    def appendix(self) -> Element:
        found = self.root.by_id("appendix")
        assert found is not None, "the report has no appendix"
        return found

    def element(self, ident: str) -> Element:
        found = self.root.by_id(ident)
        assert found is not None, f"no element #{ident}"
        return found

    @property
    def verdict(self) -> Element:
        return self.element("verdict")

    def charts(self, where: Element | None = None) -> list[Element]:
        return (where or self.root).find_all(lambda e: e.tag == "svg")

    @staticmethod
    def sample_values(chart: Element) -> list[float]:
        return [float(e.attrs["data-value"]) for e in chart.by_class("sample")]

    @staticmethod
    def sample_times(chart: Element) -> list[float]:
        return [float(e.attrs["data-t"]) for e in chart.by_class("sample")]

    @staticmethod
    def reading_values(chart: Element) -> list[float]:
        return [float(e.attrs["data-value"]) for e in chart.by_class("reading")]


def parse(html: str) -> ReportPage:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return ReportPage(builder.root)
