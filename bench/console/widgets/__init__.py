"""The console's widgets: link bar, unit panel, charts, frame log, key bar."""
