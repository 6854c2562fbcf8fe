"""The text side of matching: the words and bigrams both demands and patents are read as, the passage
the encoder embeds for a patent, and the boilerplate a demand uses to talk about itself."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import rjieba

from search.text import normalise

from . import encoder, matching

# Words a demand uses to talk about itself rather than its problem. The catalogue cannot teach these
# (patents do not say 我们 or 预算), so they are named; specificity takes care of the rest.
DEMAND_BOILERPLATE = frozenset("""
我们 我司 公司 企业 本公司 工厂 厂家 单位 客户 用户 需要 需求 希望 寻求 寻找 求购 征集 想要 想 能否 是否 有没有
预算 万元 左右 以内 以上 合作 转让 许可 购买 引进 技术 方案 专利 产品 项目 问题 解决 目前 现在 现有 一直
比较 非常 特别 很多 太多 经常 总是 导致 造成 影响 效果 提高 提升 降低 减少 实现 希望能 能够 可以 进行 一种
所述 本发明 本实用新型 涉及 公开 包括 其中 以及 通过 采用 使用 具有 设有 用于 一个 多个 及其 方法 装置
""".split())
_SENTENCES = re.compile(r"[^。；;！!？?]+")
_CJK_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
_LATIN_WORDS = re.compile(r"[a-z0-9]+")
# What the encoder reads of a patent: its title and this much of its abstract (~120 ms a patent on 2
# cores). Titles alone (8 to 12 ms) ranked a demand's patent much lower: the abstract's opening says
# what the thing is made of and for. 320 characters are the whole abstract of most patents (a Chinese
# abstract is held to about 300; a shorter one is followed by the claims' opening, Doc.body): what it
# does, how, and what it improves, which is how a demand describes it. 64 and then 160 characters (~45,
# ~65 ms) ranked the patent lower on the demand sets; a second vector of the abstract's effect sentences
# did too (docs/benchmarks.md).
PASSAGE_CHARS = 320


def words(text: str | None) -> list[str]:
    """The words the model sees: jieba's search-mode words (sub-words of long words included) and
    latin words of three or more letters. Single characters count too: 虾, 蟹, 狗 are what a demand
    says; the catalogue's statistics (document frequency, specificity) discount 的 and 是."""
    if not text:
        return []
    # jieba never mixes scripts in one token, so its first character tells CJK from the rest (compared
    # inline: this runs on every candidate of every match).
    return [w for w in rjieba.cut_for_search(normalise(text))
            if "\u3400" <= w[0] <= "\u9fff" or "\uf900" <= w[0] <= "\ufaff"
            or (len(w) >= 3 and w.isascii() and w[0].isalpha() and w.isalnum())]


def bigrams(text: str | None) -> list[str]:
    """Overlapping CJK bigrams and latin words: what a bigram analyzer such as Elasticsearch's cjk
    emits (less its lone characters). Robust where jieba splits a compound differently in a demand
    and in a patent. CJK runs sliced in Python (twice as fast as a look-ahead regex): this runs on
    every candidate of every match."""
    text = normalise(text or "")
    return [run[i:i + 2] for run in _CJK_RUNS.findall(text) for i in range(len(run) - 1)] + _LATIN_WORDS.findall(text)


def passage(title: str, body: str, chars: int = PASSAGE_CHARS) -> str:
    """The text the encoder embeds for a patent. A model keeps the `chars` it was trained with, so that
    its vectors stay comparable with the ones encoded for it later."""
    opening = (body or "")[:chars].strip()
    return f"{title}。{opening}" if opening else title


def passage_hash(text: str) -> int:
    """Identifies a passage and the encoder that embeds it, so that a retrain reuses its vector."""
    digest = hashlib.blake2b(f"{encoder.NAME}\n{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def sentences(text: str | None) -> list[str]:
    return [s.strip() for s in _SENTENCES.findall(text or "") if len(s.strip()) >= 8]


@dataclass
class Doc:
    """What matching reads of a listing's patent."""

    key: int  # patent id
    title: str
    body: str  # abstract (and claims' first part); the title is not repeated here
    ipc: list[str]



def candidate_text(title: str, body: str, ipc: list[str], cosine: float | None) -> matching.CandidateText:
    return matching.CandidateText(words(title), words(body), ipc, cosine, bigrams(title), bigrams(body))

