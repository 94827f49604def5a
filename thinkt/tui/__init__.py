"""Status pages: ``thinkt tui`` (textual, the ``tui`` extra) and ``thinkt status`` (plain text)."""
