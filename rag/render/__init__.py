"""The page view: a cited passage shown on its page (``boxes`` finds where its characters are, ``page`` draws)."""
