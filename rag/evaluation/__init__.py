"""Evaluation: question sets with gold quotes (``questions``), running them through a retriever (``run``), metrics
checked against hand-computed fixtures (``metrics``), significance (``stats``), reports (``report``), public BEIR sets
(``beir``) and highlight quality (``highlight_eval``). Needs nothing beyond the core install except ``report``'s plot
(matplotlib, the ``rag[eval]`` extra)."""
