"""A footer that shows every key, on as many lines as it takes.

Textual's ``Footer`` is one line that scrolls sideways: at 80 columns the console's dozen-plus
keys would be cut off, and a technician would not know ``x`` injects a fault. :class:`KeyBar`
packs the active bindings of its screen into lines that fit the width, dims the ones that are
disabled right now (the load keys while a plan owns the loads) and redraws when the screen's
bindings change.
"""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget


class KeyBar(Widget):
    """Every shown binding of the screen as ``key description``, wrapped to the width."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: auto;
        max-height: 3;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: object) -> None:
        self.refresh(layout=True)

    def _chunks(self) -> list[Text]:
        chunks: list[Text] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            style = "" if active.enabled else "dim"
            chunk = Text()
            chunk.append(key, style=f"bold reverse {style}".strip())
            chunk.append(f" {binding.description}", style=style)
            chunks.append(chunk)
        return chunks

    def _lines(self, width: int) -> list[Text]:
        lines: list[Text] = []
        line = Text()
        for chunk in self._chunks():
            needed = chunk.cell_len + (2 if line.cell_len else 1)
            if line.cell_len and line.cell_len + needed > width:
                lines.append(line)
                line = Text()
            line.append("  " if line.cell_len else " ")
            line.append_text(chunk)
        if line.cell_len:
            lines.append(line)
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self._lines(width)))

    def render(self) -> Text:
        return Text("\n").join(self._lines(self.size.width or 80))
