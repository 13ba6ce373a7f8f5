"""The web app under load: 20 users searching for a minute while documents are uploaded (bench/load_web.py).

The slow test asserts correctness only (no error, every answer cited, uploads searchable, a clean server log);
latencies are printed, never asserted: speed targets belong to benchmarks, not to timed tests.
"""

from __future__ import annotations

import pytest

from bench import load_web


@pytest.mark.parametrize("url", ["http://127.0.0.1:7860", "http://localhost:8080/", "http://[::1]:7860"])
def test_loopback_urls_are_accepted(url: str) -> None:
    assert load_web.check_loopback(url).endswith("/")


@pytest.mark.parametrize("url", ["http://192.168.1.10:7860", "http://example.com/", "file:///etc/passwd", "http://0.0.0.0:7860"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(SystemExit, match="loopback"):
        load_web.check_loopback(url)


def test_results_need_a_cited_card() -> None:
    assert load_web.has_results('<article class="rag-card" data-rank="1">… ¶5 …</article>')
    assert not load_web.has_results('<div class="rag-notice rag-warn">No passage found for «x».</div>')
    assert not load_web.has_results(None)


@pytest.mark.slow
def test_twenty_users_for_a_minute_with_uploads() -> None:
    run = load_web.run_load(users=20, seconds=60, uploads=2)
    summary = run.summary()
    print("\n" + load_web.report(summary))
    assert summary["requests"] > 0
    assert summary["errors"] == 0, summary["first_errors"]
    assert summary["without_results"] == 0, [r.question for r in run.without_results][:5]
    assert len(run.uploads) == 2
    for upload in run.uploads:
        assert not upload.error, upload.error
        assert upload.searchable, f"{upload.source} not found by «{upload.question}»"
    assert not summary["server_log_errors"], summary["server_log_errors"]
