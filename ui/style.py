"""The app's CSS and its one piece of JavaScript (the citation copy button), passed to ``launch``.

The JavaScript lives only here (in the page head): rendered results contain no script and no event handlers.
"""

from __future__ import annotations

CSS = """
.gradio-container { max-width: 1000px !important; margin: 0 auto !important; }
#rag-header h1 { font-size: 1.6rem; margin: 0 0 .2rem; font-weight: 700; letter-spacing: -.01em; }
#rag-header p { margin: 0; color: var(--body-text-color-subdued); }
.rag-results { display: flex; flex-direction: column; gap: 14px; }
.rag-summary { color: var(--body-text-color-subdued); font-size: .95em; overflow-wrap: anywhere; }
.rag-summary q { color: var(--body-text-color); font-weight: 600; }
.rag-card {
  border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 14px 16px;
  background: var(--block-background-fill); box-shadow: 0 1px 3px rgba(15, 23, 42, .06);
  overflow-wrap: anywhere; min-width: 0;
}
.rag-card.rag-weak { border-style: dashed; opacity: .85; }
.rag-head { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-start; }
.rag-rank {
  flex: none; width: 28px; height: 28px; border-radius: 50%; display: flex; align-items: center;
  justify-content: center; font-weight: 700; font-size: .9em;
  background: var(--color-accent-soft); color: var(--color-accent);
}
.rag-cite { flex: 1 1 220px; min-width: 0; }
.rag-title { font-weight: 600; line-height: 1.35; }
.rag-badge {
  margin-left: .5em; padding: 1px 7px; border-radius: 9px; font-size: .75em; font-weight: 600;
  background: var(--neutral-200); color: var(--neutral-700); vertical-align: middle;
}
.rag-meta { font-size: .85em; line-height: 1.45; color: var(--body-text-color-subdued); margin-top: 2px; }
.rag-match { flex: none; font-size: .78em; padding: 2px 8px; border-radius: 999px; white-space: nowrap; }
.rag-match:empty { display: none; }
.rag-match-strong { background: #dbeafe; color: #1e3a8a; }  /* on the subject: never the green of an answer */
.rag-match-fair { background: #fef3c7; color: #78350f; }
.rag-match-weak { background: var(--neutral-200); color: var(--neutral-700); }
.rag-text { margin: 10px 0 6px; line-height: 1.6; white-space: pre-line; }
.rag-card mark, .rag-ctx mark { background: #fde68a; color: inherit; padding: 1px 2px; border-radius: 3px; }
.dark .rag-card mark, .dark .rag-ctx mark { background: #854d0e; }
.rag-context { margin-top: 4px; }
.rag-context summary { cursor: pointer; font-size: .88em; color: var(--color-accent); width: fit-content; }
.rag-ctx-list { display: flex; flex-direction: column; gap: 6px; margin-top: 8px; }
.rag-ctx { padding: 6px 10px; border-left: 3px solid var(--border-color-primary); white-space: pre-line;
  font-size: .92em; line-height: 1.5; color: var(--body-text-color-subdued); }
.rag-ctx-hit { border-left-color: var(--color-accent); background: var(--color-accent-soft);
  color: var(--body-text-color); border-radius: 0 6px 6px 0; }
.rag-ctx-n { font-weight: 600; margin-right: .5em; color: var(--body-text-color-subdued); }
.rag-ocr { background: #e0e7ff; color: #3730a3; cursor: help; }
.rag-page { margin-top: 4px; }
.rag-page summary { cursor: pointer; font-size: .88em; color: var(--color-accent); width: fit-content; }
.rag-page-img { display: block; max-width: 100%; height: auto; margin-top: 8px; border: 1px solid var(--border-color-primary);
  border-radius: 6px; background: #fff; }
.rag-page-full { font-size: .8em; margin-left: .5em; }
.rag-citation { display: flex; gap: 8px; align-items: flex-start; margin-top: 10px; }
.rag-cite-string {
  flex: 1; min-width: 0; display: block; white-space: normal; overflow-wrap: anywhere; user-select: all;
  font-family: inherit; font-size: .85em; line-height: 1.45; padding: 6px 10px; border-radius: 6px;
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary);
}
.rag-copy { flex: none; font-size: .8em; padding: 5px 10px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--button-secondary-background-fill);
  color: var(--button-secondary-text-color); }
.rag-copy:hover { background: var(--button-secondary-background-fill-hover); }
.rag-notice { padding: 10px 14px; border-radius: 10px; border: 1px solid; overflow-wrap: anywhere; }
.rag-info { border-color: #bfdbfe; background: #eff6ff; color: #1e3a8a; }
.rag-warn { border-color: #fcd34d; background: #fffbeb; color: #78350f; }
.rag-error { border-color: #fca5a5; background: #fef2f2; color: #7f1d1d; }
.rag-ok { border-color: #86efac; background: #f0fdf4; color: #14532d; }
.rag-answer-label { font-weight: 600; }
.rag-answer-text { font-size: 1.15em; font-weight: 600; }
.rag-answer-cite, .rag-answer-note { font-size: .85em; margin-top: 2px; }
.rag-card mark strong.rag-answer-mark { background: #86efac; color: inherit; padding: 1px 2px; border-radius: 3px; }
.dark .rag-card mark strong.rag-answer-mark { background: #166534; }
.rag-card-answer { border-color: #86efac; }
.rag-working { border-color: #c7d2fe; background: #eef2ff; color: #312e81; }
.rag-working::before {
  content: ""; display: inline-block; width: .9em; height: .9em; margin-right: .55em; vertical-align: -.1em;
  border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%; animation: rag-spin .8s linear infinite;
}
@keyframes rag-spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .rag-working::before { animation: none; } }
.rag-hint p { margin: 0 0 .4rem; font-size: .88em; color: var(--body-text-color-subdued); }
.rag-uploaded { background: #e0f2fe; color: #075985; }
#rag-status:empty { display: none; }
.rag-empty { color: var(--body-text-color-subdued); padding: 8px 2px; }
.rag-docs { list-style: none; margin: 0; padding: 0; }
.rag-docs li { padding: 8px 0; border-bottom: 1px solid var(--border-color-primary); overflow-wrap: anywhere; }
.rag-docs li:last-child { border-bottom: none; }
.rag-doc-title { font-weight: 600; }
@media (max-width: 520px) {
  .rag-card { padding: 12px; }
  .rag-citation { flex-direction: column; }
}
"""

HEAD = """
<script>
document.addEventListener("click", function (event) {
  var button = event.target && event.target.closest ? event.target.closest(".rag-copy") : null;
  if (!button) return;
  var code = button.parentElement && button.parentElement.querySelector(".rag-cite-string");
  if (!code) return;
  var text = code.textContent;
  function done() {
    // Labels are in the results' language (data-done too); keep the first one across quick repeated clicks.
    if (!button.dataset.label) button.dataset.label = button.textContent;
    button.textContent = button.dataset.done || "Copied";
    setTimeout(function () { button.textContent = button.dataset.label; }, 1500);
  }
  function fallback() {
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { if (document.execCommand("copy")) done(); } catch (e) {}
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else {
    fallback();
  }
});
</script>
"""
