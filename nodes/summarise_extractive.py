"""Offline extractive summaries: TextRank over a sentence graph, for Spanish and English.

The summary is made of the text's own sentences, unchanged, in their original order: the ones that share
the most vocabulary with the rest of the text (PageRank over a graph whose edges weigh how many content words
two sentences share; Mihalcea & Tarau 2004). The graph is a numpy matrix: it is dense (most sentences share
some word), and a matrix product scores a thousand sentences in milliseconds. Sentences are found with pysbd
(rule-based, ships its abbreviation lists, no download), after joining lines that a PDF or a hard wrap broke
mid-sentence.
Markdown code blocks, table rows and headings are never picked.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from .llm_client import count_words, trim_to_words

MAX_CANDIDATES = 1000 # TextRank compares every pair; longer texts are pre-filtered by word frequency
MIN_WORDS = 5  # shorter pieces are headings, labels or table cells rather than sentences

STOPWORDS = {
    "en": set(["a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "may", "might", "must", "shall", "us", "use", "used", "using", "one", "two"]),
    "es": set(["a", "al", "algo", "algunas", "algunos", "ante", "antes", "como", "con", "contra", "cual", "cuando", "de", "del", "desde", "donde", "durante", "e", "el", "ella", "ellas", "ellos", "en", "entre", "era", "erais", "eran", "eras", "eres", "es", "esa", "esas", "ese", "eso", "esos", "esta", "estaba", "estado", "estas", "este", "esto", "estos", "fue", "fueron", "ha", "habia", "han", "hasta", "hay", "la", "las", "le", "les", "lo", "los", "mas", "me", "mi", "mis", "mucho", "muy", "nada", "ni", "no", "nos", "nosotros", "o", "os", "otra", "otras", "otro", "otros", "para", "pero", "poco", "por", "porque", "que", "quien", "se", "sea", "ser", "si", "sido", "sin", "sobre", "son", "su", "sus", "tambien", "te", "tiene", "tienen", "todo", "todos", "tu", "tus", "un", "una", "uno", "unos", "vosotros", "y", "ya", "yo", "este", "esta", "puede", "pueden", "cada", "segun", "asi", "dos"]),
}
# Prepositive abbreviations after which pysbd's Spanish rules wrongly end a sentence ("el Sr. | García").
_TITLES = {"sr", "sra", "srta", "sres", "sras", "dr", "dra", "dres", "d", "dña", "lic", "lcdo", "lcda", "ing",
           "prof", "profa", "arq", "excmo", "excma", "ilmo", "ilma", "mons", "gral", "cnel", "tte", "sto",
           "sta",
           "ud", "uds", "vd", "vds", "núm", "art", "pág", "págs", "av", "avda", "mr", "mrs", "ms", "st"}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\d+(?:[.,]\d+)*")
_TERMINAL = re.compile(r"[.!?…:;]['\"”’)\]]*$")
_SENTENCE_END = re.compile(r"[.!?…]['\"”’)\]*_]*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,3}[.)]\s+)")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$|^\s*[-:| ]{3,}\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"\b(?:https?://|www\.)\S+")
_CODE = re.compile(r"`[^`]*`")


@dataclass
class Extract:
    text: str
    sentences: list[str]  # the sentences chosen, in the text's order
    language: str  # 'es' or 'en', detected
    candidates: int  # sentences considered
    truncated: bool  # no whole sentence fitted, so the best one was cut


def detect_language(text: str) -> str:
    """'es' or 'en', by counting each language's commonest words."""
    words = Counter(_fold(w) for w in _WORD.findall(text[:20_000].lower()))
    es = sum(words[w] for w in ("de", "la", "que", "el", "los", "las", "del", "por", "para", "con", "una"))
    en = sum(words[w] for w in ("the", "of", "and", "to", "is", "that", "for", "with", "this", "are", "by"))
    return "es" if es > en else "en"


def split_sentences(text: str, language: str) -> list[tuple[str, bool]]:
    """The sentences of `text`, each with whether it may be picked (prose, not code, tables or headings)."""
    import pysbd

    # A Segmenter keeps state while it works: one per call, never shared between threads.
    segmenter = pysbd.Segmenter(language=language if language in ("es", "en") else "en", clean=False)
    out: list[tuple[str, bool]] = []
    for run, prose in _runs(text):
        if not prose:
            out.append((run, False))
            continue
        for sentence in _segment(segmenter, run):
            plain = _plain(sentence)
            letters = sum(c.isalpha() for c in plain)
            # Prose ends like a sentence: not a heading, a command, a label or a line ending in ':'.
            prose = len(_WORD.findall(plain)) >= MIN_WORDS and bool(_SENTENCE_END.search(sentence))
            out.append((sentence, prose and letters >= 0.5 * len(plain.replace(" ", ""))))
    return out


def summarise(text: str, *, max_words: int, style: str = "prose") -> Extract:
    """The best sentences of `text` that fit in `max_words` words, rendered in `style`."""
    language = detect_language(text)
    units = split_sentences(text, language)
    seen: set[str] = set()
    candidates: list[str] = []
    for sentence, prose in units:
        key = " ".join(sentence.lower().split())
        if prose and key not in seen:  # repeated lines are page headers, footers or boilerplate
            seen.add(key)
            candidates.append(sentence)
    if len(candidates) < 3:  # hardly any prose (a table, a form): pick from every line with some words
        candidates = list(dict.fromkeys(s for s, _ in units if len(_WORD.findall(_plain(s))) >= 2))
    if not candidates:
        return Extract("", [], language, 0, False)
    ranking = _rank(candidates, language)
    chosen, used = [], 0
    for index in ranking:
        words = count_words(candidates[index])
        if used + words <= max_words:
            chosen.append(index)
            used += words
    truncated = not chosen
    if truncated:
        sentences = [trim_to_words(candidates[ranking[0]], max_words)[0]]
        lead = 0
    else:
        lead = chosen[0]
        chosen.sort()
        sentences = [candidates[i] for i in chosen]
        lead = chosen.index(lead)
    return Extract(_render(sentences, style, lead), sentences, language, len(candidates), truncated)


def _render(sentences: list[str], style: str, lead: int) -> str:
    if style == "bullets":
        return "\n".join(f"- {s}" for s in sentences)
    if style == "executive" and len(sentences) > 1:  # the best sentence first, the rest as key points
        rest = sentences[:lead] + sentences[lead + 1:]
        return sentences[lead] + "\n\n" + "\n".join(f"- {s}" for s in rest)
    return " ".join(sentences)


def _rank(sentences: list[str], language: str) -> list[int]:
    """Sentence indexes, best first (PageRank over shared content words; ties go to the earlier sentence)."""
    import numpy as np

    stop = STOPWORDS.get(language, set()) | STOPWORDS["en"]
    bags = [{_stem(w) for w in _WORD.findall(_plain(s).lower()) if _fold(w) not in stop and len(w) > 1}
            for s in sentences]
    pool = list(range(len(sentences)))
    if len(pool) > MAX_CANDIDATES:
        frequency = Counter(w for bag in bags for w in bag)
        density = [sum(frequency[w] for w in bag) / math.sqrt(len(bag) + 1) for bag in bags]
        pool = sorted(sorted(pool, key=lambda i: -density[i])[:MAX_CANDIDATES])
    vocabulary = {w: j for j, w in enumerate(sorted({w for i in pool for w in bags[i]}))}
    terms = np.zeros((len(pool), max(1, len(vocabulary))), dtype=np.float32)
    for row, i in enumerate(pool):
        terms[row, [vocabulary[w] for w in bags[i]]] = 1.0
    sizes = np.log(terms.sum(axis=1) + 1.0)
    # Edge weight of TextRank: shared words / (log |S1| + log |S2|); +1 keeps one-word sentences finite.
    weights = (terms @ terms.T) / (sizes[:, None] + sizes[None, :] + 1e-9)
    np.fill_diagonal(weights, 0.0)
    scores = pagerank(weights)
    return [pool[row] for row in sorted(range(len(pool)), key=lambda r: (-round(float(scores[r]), 9), r))]


def pagerank(weights, damping: float = 0.85, tolerance: float = 1e-6, max_iterations: int = 200):
    """PageRank of a weighted graph given as a dense adjacency matrix (the power iteration networkx uses;
    its own pagerank needs scipy, which is not worth 40 MB here). Rows without edges spread evenly."""
    import numpy as np

    n = weights.shape[0]
    out = weights.sum(axis=1)
    dangling = out == 0
    transition = np.divide(weights, out[:, None], out=np.zeros_like(weights), where=~dangling[:, None])
    rank = np.full(n, 1.0 / n)
    for _ in range(max_iterations):
        previous = rank
        rank = damping * (rank @ transition + rank[dangling].sum() / n) + (1.0 - damping) / n
        if np.abs(rank - previous).sum() < n * tolerance:
            break
    return rank


def _runs(text: str) -> list[tuple[str, bool]]:
    """Stretches of prose with hard-wrapped lines joined, and the lines that are not prose."""
    runs: list[tuple[str, bool]] = []
    in_code = False
    for block in re.split(r"\n[^\S\n]*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        raw = block.split("\n")
        if not in_code and all(line.startswith(("    ", "\t")) for line in raw if line.strip()):
            runs.extend((line.strip(), False) for line in raw if line.strip())  # Markdown indented code
            continue
        lines = [line.strip() for line in raw]
        longest = max((len(line) for line in lines), default=0)
        current: list[str] = []
        for line in lines:
            if line.startswith(("```", "~~~")):
                in_code = not in_code
                _flush(runs, current)
                continue
            if in_code or _TABLE_ROW.match(line) or _HEADING.match(line) or line.startswith(("![", "<")):
                _flush(runs, current)
                if line and not in_code:
                    runs.append((line, False))
                continue
            if not line:
                continue
            if current and not _continues(current[-1], line, longest):
                _flush(runs, current)
            current.append(line)
        _flush(runs, current)
    return runs


def _continues(previous: str, line: str, longest: int) -> bool:
    """Whether `line` goes on the sentence that `previous` started (a wrapped line, not a new item)."""
    if _LIST_ITEM.match(line):
        return False
    if line[0].islower():
        return True
    return not _TERMINAL.search(previous) and len(previous) >= max(40, 0.6 * longest)


def _flush(runs: list[tuple[str, bool]], current: list[str]) -> None:
    if current:
        runs.append((" ".join(current), True))
        current.clear()


def _segment(segmenter, run: str) -> list[str]:
    parts = [p.strip() for p in segmenter.segment(run) if p.strip()]
    merged: list[str] = []
    for part in parts:
        if merged and merged[-1].endswith(".") and _last_word(merged[-1]) in _TITLES:
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return merged


def _last_word(text: str) -> str:
    words = text[:-1].split()
    return words[-1].lower() if words else ""


def _plain(sentence: str) -> str:
    """The words a reader sees: Markdown links and images as their text, no URLs, no inline code."""
    sentence = _LINK.sub(r"\1", sentence)
    return _URL.sub(" ", _CODE.sub(" ", sentence))


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")


def _stem(word: str) -> str:
    # A crude stemmer, good enough for counting overlaps in both languages: accents off, first 6 letters.
    return _fold(word)[:6]
