"""HTML rendering of the web app's results: escaping, highlights, abstention, citation strings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.ingest.lang import guess_language
from rag.retrieve.abstention import match
from rag.types import ANSWERS, BELOW_NULL, MAYBE, Answer, Decision, DocumentInfo, Hit, OffsetMap, Passage, Results, Span
from tests.helpers import check_quote, missing_decision, squash
from ui import render
from ui.collection import Removed
from ui.library import Listed

TEXT = "Premier point. L'OTAN condamne ces référendums illégaux. Dernier point."
SENTENCE = "L'OTAN condamne ces référendums illégaux."
# The passage read from its document at 452 character for character (``text[i]`` is the document's ``452 + i``).
AT_452 = OffsetMap((0,), (452,), (453,))
EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


def make_hit(
    text: str = TEXT,
    highlights: tuple[Span, ...] | None = None,
    *,
    title: str = "Déclaration de l'OTAN",
    date: str = "2022-09-23",
    page: int | None = None,
    rank: int = 1,
    paragraph: int = 3,
    strength: float | None = None,
    offsets: OffsetMap | None = AT_452,
) -> Hit:
    if highlights is None:
        start = text.find(SENTENCE)
        highlights = (Span(start, start + len(SENTENCE), 0.9),) if start >= 0 else ()
    passage = Passage(id=f"doc.txt#{paragraph}", source="doc.txt", paragraph=paragraph, start=452, end=905, text=text, page=page)
    info = DocumentInfo(source="doc.txt", title=title, date=date, author="OTAN")
    return Hit(passage, info, 0.8734, rank, highlights, strength, match(strength), offsets)


NO_ANSWER = "Nothing in the corpus seems to answer this question"


def results(question: str, *hits: Hit, abstain: bool = False, missing: str | None = None) -> Results:
    """Results for ``question`` (in its language, as a search gives them); flagged as weak (``abstain``) or for a
    ``missing`` kind of answer (looked for in the 3 best passages, as a search does)."""
    lang = guess_language(question)
    if missing is not None:
        return Results(question, hits, missing_decision(missing), lang)
    return Results(question, hits, Decision(True, BELOW_NULL) if abstain else Decision(), lang)


def neighbours(hit: Hit) -> list[Passage]:
    before = Passage(id="doc.txt#2", source="doc.txt", paragraph=2, start=0, end=400, text="Avant <b>gras</b>.")
    after = Passage(id="doc.txt#4", source="doc.txt", paragraph=4, start=906, end=1000, text="Après.")
    return [before, hit.passage, after]


def test_script_in_passage_text_is_escaped() -> None:
    html = render.render_card(make_hit(f"Texte {EVIL} fin."))
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "onerror=&quot;window.__pwned=1&quot;" in html


def test_script_in_title_is_escaped_everywhere() -> None:
    html = render.render_results(results("question", make_hit(title=EVIL)))
    assert "<script" not in html and "<img" not in html
    assert html.count("&lt;script&gt;") == 2  # the card's title and its citation string


def test_script_in_question_is_escaped() -> None:
    html = render.render_results(results(EVIL, make_hit()))
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "<script" not in render.render_results(results(EVIL))


def test_script_in_context_and_document_list_is_escaped() -> None:
    hit = make_hit()
    html = render.render_card(hit, neighbours(hit))
    assert "<b>" not in html and "&lt;b&gt;gras&lt;/b&gt;" in html
    listed = Listed(DocumentInfo(source=f"{EVIL}.txt", title=EVIL, author=EVIL), 3, uploaded=True, added="2025", added_by=EVIL)
    docs = render.render_documents([listed])
    assert "<script" not in docs and "<img" not in docs and docs.count("&lt;script&gt;") == 5  # (the source twice)
    item = Removed("20250101T000000.000000000-abcd", f"{EVIL}.txt", "0" * 64, {"title": EVIL}, "2025-01-01", by=EVIL)
    assert render.trash_label(item).startswith(EVIL)  # a dropdown's label: Gradio shows it as text


def test_mark_wraps_exactly_the_highlighted_sentence() -> None:
    html = render.render_card(make_hit())
    assert re.findall(r"<mark>(.*?)</mark>", html) == [render.esc(SENTENCE)]
    assert f"Premier point. <mark>{render.esc(SENTENCE)}</mark> Dernier point." in html


def test_highlight_offsets_index_the_raw_text_not_the_escaped_one() -> None:
    text = "A < B & C. Voici la phrase qui répond. Fin."
    start = text.index("Voici")
    out = render.highlight_html(text, [Span(start, start + len("Voici la phrase qui répond."))])
    assert out == "A &lt; B &amp; C. <mark>Voici la phrase qui répond.</mark> Fin."


def test_several_spans_sorted_clamped_and_overlaps_merged() -> None:
    text = "aaa bbb ccc ddd"
    out = render.highlight_html(text, [Span(8, 11), Span(0, 3), Span(1, 5), Span(12, 99), Span(5, 5)])
    assert out == "<mark>aaa b</mark>bb <mark>ccc</mark> <mark>ddd</mark>"
    assert render.highlight_html(text, []) == text


def test_abstain_shows_the_notice_and_marks_cards_weak() -> None:
    html = render.render_results(results("zxqv blorf ???", make_hit(), make_hit(rank=2), abstain=True))
    assert NO_ANSWER in html
    assert html.count('class="rag-card rag-weak"') == 2
    assert html.count(">weak<") == 2


def test_no_abstain_no_notice() -> None:
    html = render.render_results(results("question", make_hit()))
    assert NO_ANSWER not in html and "rag-weak" not in html


def test_abstaining_for_a_missing_figure_says_which_in_the_question_language() -> None:
    english = render.render_results(results("What is the budget?", make_hit(), missing="amount"))
    assert "none of the passages gives an amount of money." in english and 'data-state="none"' in english
    assert english.count('class="rag-card rag-weak"') == 1 and "rag-ok" not in english
    french = render.render_results(results("Quel taux de participation ?", make_hit(), missing="percentage"))
    assert "aucun des passages ne donne un pourcentage." in french
    assert "questions this corpus does not answer" not in english  # the specific reason replaces the generic one


def test_no_hits_says_so() -> None:
    assert "No passage found" in render.render_results(results("question"))


def test_results_speak_the_question_language() -> None:
    french = render.render_results(
        results("Quand le groupe-pays Russie a-t-il été créé ?", make_hit(), make_hit(rank=2), abstain=True)
    )
    assert "Rien dans le corpus ne semble répondre à cette question : les passages" in french
    assert "2 passages pour <q>" in french and ">faible<" in french
    assert ">Copier</button>" in french and 'data-done="Copié"' in french
    assert NO_ANSWER not in french
    english = render.render_results(results("When was the Russia country group created?", make_hit(), abstain=True))
    assert NO_ANSWER in english and "1 passage for <q>" in english and ">weak<" in english
    assert ">Copy</button>" in english
    assert "Aucun passage trouvé pour «Qui a signé ?»." in render.render_results(results("Qui a signé ?"))
    # The copyable citation keeps one format whatever the language.
    hit = make_hit()
    assert render.citation_string(hit) in render.render_card(hit, lang="fr").replace("&#x27;", "'")


def test_citation_string() -> None:
    at = 452 + TEXT.index(SENTENCE)
    assert render.citation_string(make_hit()) == (
        f"«{SENTENCE}» — OTAN, Déclaration de l'OTAN (2022-09-23), ¶3, quote chars {at}–{at + len(SENTENCE)}, "
        "passage chars 452–905 of doc.txt"
    )
    # An index that does not know where the quote is read (no offset map): the passage's offsets alone.
    assert render.citation_string(make_hit(offsets=None)).endswith(f"«{SENTENCE}» — OTAN, Déclaration de l'OTAN "
                                                                   "(2022-09-23), ¶3, passage chars 452–905 of doc.txt")


def test_citation_string_with_page_without_date_and_two_sentences() -> None:
    text = "Un. Deux phrases ici. Trois. Quatre phrases là."
    spans = (Span(4, 21), Span(29, 47))
    hit = make_hit(text, spans, date="", page=2)
    assert render.citation_string(hit) == (
        "«Deux phrases ici. […] Quatre phrases là.» — OTAN, Déclaration de l'OTAN, p. 2, ¶3, "
        "quote chars 456–473 + 481–499, passage chars 452–905 of doc.txt"
    )


def test_sentences_apart_by_spaces_only_are_one_piece() -> None:
    text = "Un. Deux phrases ici.\n  Trois phrases là. Fin."
    hit = make_hit(text, (Span(4, 21), Span(24, 41)))
    assert render.quote(hit) == render.Quote("Deux phrases ici. Trois phrases là.", ((4, 41),))


def test_the_quote_is_recovered_from_the_document_through_its_offsets() -> None:
    """The document's text, hard-wrapped and hyphenated; the passage is its cleaned text (rag.ingest.clean): each
    quote, whole, in pieces or cut short, is read back from the document with the offsets its citation gives."""
    document = "Titre.\n\nLa coopé-\nration décentralisée est un levier. Les villes jumelées\nsont nombreuses. " * 3
    text = " ".join(document.replace("-\n", "").split())
    starts, i = [], 0
    for char in text:  # where each character of the cleaned text was read: the raw text's characters, in order
        while document[i] != char and not (char == " " and document[i].isspace()):
            i += 1
        starts.append(i)
        i += 1
    hit = make_hit(text, None, offsets=OffsetMap.of(starts, [s + 1 for s in starts]))
    sentence = text.index("Les villes")
    for spans, max_chars in [
        ((Span(7, 7 + len("La coopération décentralisée est un levier.")),), 240),
        ((Span(7, 50), Span(sentence, sentence + 40)), 240),
        ((Span(7, 50),), 20),
        ((), 30),
    ]:
        quoted = render.quote(make_hit(text, spans), max_chars)
        assert len(quoted.text) <= max_chars
        pieces = [hit.document_span(start, end) for start, end in quoted.pieces]
        recovered = " […] ".join(document[a:b] for a, b in pieces if a is not None)  # type: ignore[misc]
        assert squash(recovered) == squash(quoted.text.removesuffix("…")), (spans, max_chars)
    cited = render.citation_string(make_hit(text, (Span(7, 50),), offsets=hit.offsets))
    start, end = map(int, re.search(r"quote chars (\d+)–(\d+),", cited).groups())  # type: ignore[union-attr]
    assert document[start:end] == "La coopé-\nration décentralisée est un levier."


def test_too_long_highlights_quote_the_best_one() -> None:
    first = "Une longue phrase de contexte " * 7 + "."
    answer = "La réponse est ici."
    text = f"{first} Entre les deux. {answer}"
    a, b = text.index(answer), text.index(answer) + len(answer)
    hit = make_hit(text, (Span(0, len(first), 0.80), Span(a, b, 0.91)))
    assert render.quote(hit, max_chars=120) == render.Quote(answer, ((a, b),))
    assert render.quote(hit, max_chars=1000).text.endswith(f"[…] {answer}")


def test_citation_without_highlight_quotes_the_passage_start() -> None:
    hit = make_hit("mot " * 200, ())
    quoted = render.quote(hit)
    assert quoted.text.endswith(" mot…") and len(quoted.text) <= render.QUOTE_MAX_CHARS  # cut after a word
    assert quoted.pieces == ((0, len(quoted.text) - 1),)
    assert f"quote chars 452–{452 + len(quoted.text) - 1}, passage chars 452–905" in render.citation_string(hit)


def test_card_shows_citation_fields_and_context() -> None:
    hit = make_hit(page=5)
    html = render.render_card(hit, neighbours(hit))
    for part in ("Déclaration de l&#x27;OTAN", "2022-09-23", "p. 5, ¶3", "doc.txt", "0.87"):
        assert part in html
    assert "<details" in html and "Context (¶2–¶4)" in html
    assert html.count('class="rag-ctx rag-ctx-hit"') == 1
    assert html.count("<mark>") == 2  # in the passage and in its emphasised copy in the context


def test_cards_say_how_close_each_passage_is_to_the_subject_in_words_not_as_a_cosine() -> None:
    hits = [make_hit(strength=4.0), make_hit(rank=2, strength=1.6), make_hit(rank=3, strength=0.2)]
    answered = Results("Qui ?", tuple(hits), Decision(False, strength=4.0, confidence=ANSWERS), "fr")
    french = render.render_results(answered)
    assert re.findall(r'class="rag-match rag-match-(\w+)"[^>]*>([^<]+)<', french) == [
        ("strong", "dans le sujet"), ("fair", "proche du sujet"), ("weak", "loin du sujet"),
    ]  # fmt: skip
    assert "score de classement 0.873" in french and "0.87<" not in french  # the score only in the tooltip
    # No short answer read: the passages are on the subject, to be checked; never the green of an answer.
    assert 'data-state="subject"' in french and "rag-ok" not in french and "vérifiez qu&#x27;ils y répondent" in french
    fair = Decision(False, strength=1.6, confidence=MAYBE)
    english = render.render_results(Results("Who?", (make_hit(strength=1.6),), fair, "en"))
    assert ">near the subject<" in english and "check that they answer it" in english and "rag-info" in english
    unmeasured = render.render_results(results("Who?", make_hit()))  # dense or lexical mode: no label
    assert "rag-match-" not in unmeasured and "rag-ok" not in unmeasured


def _answer(hit: Hit, text: str) -> Answer:
    start = hit.text.index(text)
    s = hit.text.index("Dernier")
    sentence = Span(s, len(hit.text), 0.0, 452 + s, 452 + len(hit.text))
    return Answer(
        text, text, "date", "DATE", hit.rank, hit.source, 452 + start, 452 + start + len(text), start, start + len(text),
        sentence,
    )  # fmt: skip


def test_the_three_states_look_different_and_the_answer_is_marked_in_its_sentence() -> None:
    text = "Premier point. L'OTAN condamne ces référendums illégaux. Dernier point, le 2 mars 2022."
    first, second = make_hit(text, strength=4.0), make_hit(text, rank=2, strength=3.0)
    answer = _answer(second, "2 mars 2022")
    found = Results("Quand ?", (first, second), Decision(False, strength=4.0, confidence=ANSWERS), "fr", answer)
    html = render.render_results(found)
    assert 'data-state="answer"' in html and "rag-ok" in html and 'data-state="subject"' not in html
    assert 'Réponse :</span> <span class="rag-answer-text">2 mars 2022</span>' in html
    assert "[2] Déclaration de l&#x27;OTAN (2022), ¶3 · chars" in html
    # Marked inside its sentence, highlighted on its card only (the sentence was not among the highlights).
    cards = html.split("<article")[1:]
    assert '<strong class="rag-answer-mark">' not in cards[0]
    assert '<mark>Dernier point, le <strong class="rag-answer-mark">2 mars 2022</strong>.</mark>' in cards[1]
    assert "rag-card-answer" in cards[1] and "rag-card-answer" not in cards[0]
    subject = render.render_results(Results("Quoi ?", (first,), Decision(False, strength=4.0, confidence=ANSWERS), "fr"))
    nothing = render.render_results(results("Quel taux de participation ?", first, missing="percentage"))
    states = [re.findall(r'data-state="(\w+)"', h) for h in (html, subject, nothing)]
    assert states == [["answer"], ["subject"], ["none"]]
    kinds = [re.findall(r'class="rag-notice rag-(\w+)', h)[0] for h in (html, subject, nothing)]
    assert kinds == ["ok", "info", "warn"]  # three colours; green only for a found answer


QUESTIONS = [
    "Qui porte la responsabilité de la guerre selon l'OTAN ?",
    "Which regions held the sham referendums?",
    "Quand le groupe-pays Russie a-t-il été créé ?",
    "coopération décentralisée budget 2026",
    "What is decentralised cooperation a lever for, according to the letter?",
]


def _quotes_round_trip(index: Path, corpus: Path, **load: object) -> int:
    """Every hit's citation to copy checked against its file as read from disk; how many."""
    from rag.retrieve.retriever import Retriever

    retriever = Retriever.load(index, **load)  # type: ignore[arg-type]
    checked = 0
    for question in QUESTIONS:
        for hit in retriever.search(question, k=5):
            check_quote(render.citation_string(hit), (corpus / hit.source).read_text(encoding="utf-8"))
            checked += 1
    return checked


def test_every_copied_quote_is_recovered_from_its_file(corpus_copy: Path, tmp_path: Path, fake_embedder: object) -> None:
    from rag.index import build_index

    build_index(corpus_copy, tmp_path / "index", embedder=fake_embedder)  # type: ignore[arg-type]
    assert _quotes_round_trip(tmp_path / "index", corpus_copy, embedder=fake_embedder) == len(QUESTIONS) * 5


@pytest.mark.slow
def test_every_copied_quote_is_recovered_from_its_file_with_the_real_model(real_index: Path) -> None:
    assert _quotes_round_trip(real_index, Path(__file__).resolve().parent.parent / "corpus") == len(QUESTIONS) * 5
