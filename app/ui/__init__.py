"""What a reader's browser is shown, for the pages (`web/`) and their live push (`live/`) alike.

One template environment with the vocabulary, the translations and the time filters built in
(`templates.py`), the reader's language (`reader.py`) and the static files (`assets.py`), so a
block rendered alone (an htmx answer, a push) looks exactly like the same block in its page.
`web/` and `live/` both use this package; neither imports the other.
"""
