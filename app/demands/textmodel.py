"""The matching model: what the catalogue itself teaches about words, fields and similarity.

Built by `flask matching train` from the patents in the database, stored as plain numpy files in a
directory, memory-mapped at start-up (so gunicorn workers share one copy), never downloaded:

- a vocabulary of jieba words with an IDF and a *specificity*: how much knowing the word tells about
  the patent's IPC subclass (KL divergence of the subclass distribution of the documents that use it
  from the catalogue's). Words that every field uses (提高, 方法, 问题, 需要) weigh little, wherever they
  come from, so the boilerplate of a demand does not pull in random patents;
- latent semantic vectors (truncated SVD of the weighted word-document matrix): a demand about 鱼塘
  and 喂料 lands near patents about 养殖池 and 投饵 even when they share no word;
- an IPC predictor: subclass centroids in that space, turned into probabilities by a softmax whose
  temperature is fitted on pseudo-queries;
- each patent's passage (its title and the opening of its abstract) embedded by a pretrained
  multilingual encoder (encoder.py), which knows what the catalogue cannot teach (鸢尾科 is the family
  of 玉蝉花; 试管快繁 is a kind of 组织培养): a feature of the re-ranker and a source of candidates.
  Encoding is most of the training time, so a retrain reuses the vectors of passages it has seen;
- the re-ranker's weights (see matching.py), fitted listwise on pseudo-queries: a sentence of a patent's
  abstract stands for a demand, with that sentence taken out of the patent, so the answer has to be
  found through the rest of its text, as a real demand's would.

Modules: text.py (words, bigrams, passages), model.py (the served model), training.py (building it);
matching.py holds the pure scoring that combines them. This module names what the package offers.
"""

from .model import FORMAT, TextModel  # noqa: F401 - what the package offers
from .text import (  # noqa: F401
    DEMAND_BOILERPLATE,
    PASSAGE_CHARS,
    Doc,
    bigrams,
    candidate_text,
    passage,
    passage_hash,
    sentences,
    words,
)
from .training import DIMENSIONS, PSEUDO_QUERIES, train  # noqa: F401
