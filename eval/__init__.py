"""Evaluation and tuning scripts (``python eval/NAME.py``, or ``python -m eval.NAME``); see ``eval/README.md``."""
