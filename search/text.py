"""Chinese text analysis shared by the engines.

The embedded engine indexes every CJK run as its overlapping bigrams, in order, plus jieba's
words in titles; a query word is the phrase of its bigrams, so recall never depends on how jieba
happened to split a compound (盾构机刀盘 -> 盾构 / 机刀盘 still matches a query for 盾构机, through
盾构 构机), while a whole-word match in a title adds score. Queries are segmented with jieba.
"""

from __future__ import annotations

import re

import rjieba

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_LATIN = re.compile(r"[a-z0-9]+(?:[./][a-z0-9]+)*")
_TOKEN_SPLIT = re.compile(f"([{_CJK}]+)")
STOPWORDS = frozenset("的 了 和 与 及 或 等 其 一种 一个 所述 本发明 本实用新型 涉及 公开 我们 需要 希望".split())


# Full-width letters and digits (ＡＢＣ１２３) and the ideographic space become ASCII, as NFKC would do;
# punctuation never reaches a token, so it is left alone. Full NFKC costs more than the rest of the
# analysis together and changes nothing else that catalogue text contains.
_FULLWIDTH_ALNUM = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000]")
_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def normalise(text: str) -> str:
    if not text:
        return ""
    if _FULLWIDTH_ALNUM.search(text):
        text = text.translate(_FULLWIDTH)
    return text.lower()


def bigrams(run: str) -> list[str]:
    if len(run) < 2:
        return [run] if run else []
    return [run[i:i + 2] for i in range(len(run) - 1)]


def is_cjk(word: str) -> bool:
    """Whether a word (as jieba or the regexes cut it) is Chinese: its first character decides."""
    return bool(word) and ("\u3400" <= word[0] <= "\u9fff" or "\uf900" <= word[0] <= "\ufaff")


_BIGRAM = re.compile(f"(?=([{_CJK}]{{2}}))")
_PIECE = re.compile(f"[{_CJK}]+|[a-z0-9]+(?:[./][a-z0-9]+)*")


def index_text(text: str | None, *, words: bool = False, normalised: bool = False) -> str:
    """The text as the embedded engine indexes it: every CJK run as its overlapping bigrams, in order,
    so that a word is found as the phrase of its bigrams (adjacent in FTS5, whatever jieba would have
    split), and latin words as they are. With `words`, jieba's search-mode words of three or more
    characters are added as whole tokens, which score a whole-word match higher."""
    if not normalised:
        text = normalise(text or "")
    if not text:
        return ""
    out = []
    for piece in _PIECE.findall(text):
        if len(piece) > 1 and is_cjk(piece):
            out.append(" ".join(_BIGRAM.findall(piece)))
        else:
            out.append(piece)
    if words:
        out.extend(w for w in rjieba.cut_for_search(text) if len(w) > 2 and is_cjk(w) and w not in STOPWORDS)
    return " ".join(out)


def query_terms(text: str) -> list[dict]:
    """Analyse a query into required terms, each {"word", "bigrams", "prefix"}.

    A CJK word of three or more characters may match as a whole word (bonus score) or through
    all its bigrams (recall); a single character joins its neighbour into a bigram (盾构|机 ->
    构机), or matches as a prefix when it stands alone. Engines render the terms in their own
    query language.
    """
    text = normalise(text)
    terms: list[dict] = []
    seen: set[str] = set()

    def add(word: str, grams: list[str], prefix: bool = False) -> None:
        if word and word not in seen:
            seen.add(word)
            terms.append({"word": word, "bigrams": grams, "prefix": prefix})

    for piece in _TOKEN_SPLIT.split(text):
        if not piece.strip():
            continue
        if not _CJK_RUN.fullmatch(piece):
            for word in _LATIN.findall(piece):
                add(word, [])
            continue
        words = [w for w in rjieba.cut(piece) if w not in STOPWORDS]
        for i, word in enumerate(words):
            if len(word) > 1:
                add(word, bigrams(word))
            elif i + 1 < len(words):
                add(word + words[i + 1][0], [word + words[i + 1][0]])
            elif i > 0:
                add(words[i - 1][-1] + word, [words[i - 1][-1] + word])
            else:
                add(word, [word], prefix=True)
    return terms


def highlight(text: str | None, terms: list[dict], limit: int = 3, width: int = 60) -> list[str]:
    """Fragments of `text` around the query's words, wrapped in <em>; the words as typed, not bigrams."""
    if not text or not terms:
        return []
    words = sorted({t["word"] for t in terms if t["word"]}, key=len, reverse=True)
    fragments: list[str] = []
    covered_until = -1
    for start, _ in _occurrences(text, words):
        if start < covered_until:
            continue
        start = max(0, start - width // 3)
        end = min(len(text), start + width)
        covered_until = end
        fragments.append(_marked(text[start:end], words))
        if len(fragments) == limit:
            break
    return fragments


def _occurrences(text: str, words: list[str]) -> list[tuple[int, int]]:
    """(start, end) of the words in `text`, ignoring case, without overlaps: leftmost first and, where
    several start at one place, the longest (what a regex alternation of the words, longest first,
    finds). Plain `str.find`: a regex per call would be compiled anew for every listing's words, which
    cost matching ~10 ms a request."""
    folded = text.lower()
    if len(folded) != len(text):  # a character whose lower case is longer: positions would drift
        pattern = re.compile("|".join(re.escape(word) for word in words), re.IGNORECASE)
        return [m.span() for m in pattern.finditer(text)]
    found = []
    for word in words:
        word = word.lower()
        at = folded.find(word)
        while at >= 0:
            found.append((at, -len(word)))
            at = folded.find(word, at + 1)
    found.sort()
    out: list[tuple[int, int]] = []
    until = 0
    for start, negative_length in found:
        if start >= until:
            until = start - negative_length
            out.append((start, until))
    return out


def _marked(fragment: str, words: list[str]) -> str:
    parts, done = [], 0
    for start, end in _occurrences(fragment, words):
        parts.append(f"{_escape(fragment[done:start])}<em>{_escape(fragment[start:end])}</em>")
        done = end
    parts.append(_escape(fragment[done:]))
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def phrases(raw: str) -> tuple[list[str], str]:
    """Split `"quoted phrases"` (ASCII or Chinese quotes) from the rest of a query."""
    found = re.findall(r'["“”]([^"“”]+)["“”]', raw or "")
    rest = re.sub(r'["“”][^"“”]+["“”]', " ", raw or "")
    return [normalise(p).strip() for p in found if p.strip()], rest


def completion_keys(title: str, limit: int = 12) -> list[str]:
    """Where a completion of `title` may start: at every word boundary, so 钠离 completes
    一种基于激光焊接密封的钠离子电池正极材料 as well as 一种基于…."""
    norm = normalise(title)
    keys, position = [], 0
    for word in rjieba.cut(norm):
        cjk_word = len(word) > 1 and word not in STOPWORDS and _CJK_RUN.fullmatch(word)
        if cjk_word or _LATIN.fullmatch(word):
            keys.append(norm[position:])
        position += len(word)
    return list(dict.fromkeys([norm] + keys))[:limit]
