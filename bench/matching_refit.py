"""What the re-ranker's fit does on real demands: refit the weights of a model trained by
bench.matching_quality with other pseudo-queries, and rank the four demand sets with it.

    .venv/bin/python -m bench.matching_quality --work /tmp/mq          # trains the model (once)
    .venv/bin/python -m bench.matching_refit --work /tmp/mq                              # as training fits
    .venv/bin/python -m bench.matching_refit --work /tmp/mq --encoder-text sentence --dense-factor 1
    .venv/bin/python -m bench.matching_refit --work /tmp/mq --pseudo-queries 6000

Everything but the re-ranker's weights, its encoder band and its calibration is the trained model's
(the latent space, the word vectors, the passage vectors), so a refit costs minutes, not the
training's hour. What the encoder reads of a pseudo-query (--encoder-text):

- paraphrased: as training does, the paraphrase whose words the sparse features read (80% of its
  words replaced by words the catalogue says in the same contexts), joined without spaces;
- kept: the query before paraphrase (the sentence without its title's words and a third of the rest);
- sentence: the sentence without its title's words, otherwise whole (the most fluent).

The refitted model is written beside the trained one (--work/matching-model-refit) and its figures to
bench/results/matching-refit-<encoder text>-<pseudo-queries>-x<factor>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

from app.demands.training import DENSE_FOR_DEMANDS, PSEUDO_QUERIES
from bench.matching_quality import DEMANDS, FRESH, HELD_OUT, ROOT, SHARED, machine, metrics, our_ranking

MIXED = ROOT / "bench" / "data" / "demands_mixed.jsonl"
SETS = (DEMANDS, HELD_OUT, FRESH, MIXED)


def encoder_texts(docs, samples, kind: str) -> list[str] | None:
    import rjieba

    from app.demands.training import title_words

    if kind == "paraphrased":
        return None
    if kind == "kept":
        return [query.replace(" ", "") for _, _, query in samples]
    return ["".join(w for w in rjieba.cut(sentence) if w not in title_words(docs[row].title))
            for row, sentence, _ in samples]


def refit(source: Path, target: Path, docs, *, kind: str, pseudo_queries: int, dense_factor: float) -> dict:
    """Training's fit of the re-ranker (same seed, same pseudo-queries for the same count), on the
    model in `source`, written with the rest of that model to `target`."""
    from app.demands import training
    from app.demands.model import TextModel
    from app.demands.text import words

    model = TextModel.load(source)
    by_key = {d.key: d for d in docs}
    docs = [by_key[int(k)] for k in model.doc_keys]
    samples = training._pseudo_queries(docs, random.Random(7), pseudo_queries)
    model.temperature = training._fit_temperature(model, docs, samples)
    examples = training._ranker_examples(model, docs, [words(d.title) * 2 + words(d.body) for d in docs], samples,
                                         encoder_texts=encoder_texts(docs, samples, kind))
    fit = training.fit_reranker(examples, dense_for_demands=dense_factor)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    meta = json.loads((target / "model.json").read_text(encoding="utf-8"))
    meta.update(ranker=fit.weights.as_dict(), temperature=model.temperature, dense_floor=model.dense_floor,
                dense_span=model.dense_span)
    meta["calibration"], meta["calibration_report"] = training._calibration(fit.held, fit.weights, 7)
    (target / "model.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return {"encoder_text": kind, "pseudo_queries": len(samples), "fitted_on": len(examples) - fit.cut,
            "dense_factor": dense_factor, "l2": fit.l2, "held_out_mrr": fit.validation,
            "ranker": fit.weights.as_dict(), "dense_band": [model.dense_floor, model.dense_span],
            "ece": meta["calibration_report"]["cross_fitted"]["ece"]}


def ranks_of(path: Path, by_number: dict, record_numbers: dict) -> list[int | None]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        demand = json.loads(line)
        target = by_number.get(demand.get("application_number") or record_numbers.get(demand.get("record_id")))
        if target is None:
            continue
        ranked = [i for i, _ in our_ranking(f"{demand['title']}。{demand['description']}", "trained")]
        out.append(ranked.index(target) if target in ranked else None)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="a bench.matching_quality --work with its model")
    parser.add_argument("--encoder-text", choices=("paraphrased", "kept", "sentence"), default="paraphrased")
    parser.add_argument("--pseudo-queries", type=int, default=PSEUDO_QUERIES, help="training's count unless given")
    parser.add_argument("--dense-factor", type=float, default=DENSE_FOR_DEMANDS,
                        help="the encoder's fitted weight times this (training's DENSE_FOR_DEMANDS unless given)")
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"{SHARED} is absent: the benchmark needs the shared records; skipped.")
        return 0
    import sqlalchemy as sa

    from app import create_app
    from app.demands.retraining import read_catalogue
    from app.extensions import db
    from app.patents.models import Listing, Patent

    source, target = args.work / "matching-model", args.work / "matching-model-refit"
    if not (source / "model.json").exists():
        parser.error(f"no trained model in {source}: run bench.matching_quality --work {args.work} first")
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{args.work / 'bench.db'}",
              "SEARCH_PATH": str(args.work / "search.sqlite3")}
    with create_app({**config, "MATCHING_MODEL_DIR": str(source)}).app_context():
        docs = read_catalogue()[0]
    report = {"machine": machine(), "command": " ".join(sys.argv)}
    report["fit"] = refit(source, target, docs, kind=args.encoder_text, pseudo_queries=args.pseudo_queries,
                          dense_factor=args.dense_factor)
    print(json.dumps(report["fit"], ensure_ascii=False))
    numbers_file = args.work / "record_numbers.json"
    record_numbers = json.loads(numbers_file.read_text()) if numbers_file.exists() else {}
    report["sets"], every = {}, []
    with create_app({**config, "MATCHING_MODEL_DIR": str(target)}).app_context():
        rows = db.session.execute(sa.select(Listing.id, Patent.application_number)
                                  .join(Patent, Patent.id == Listing.patent_id)).all()
        by_number = {r.application_number: r.id for r in rows}
        for path in SETS:
            ranks = ranks_of(path, by_number, record_numbers)
            every += ranks
            report["sets"][path.stem] = metrics(ranks)
            print(f"{path.stem:<18} {report['sets'][path.stem]}", flush=True)
    report["sets"]["all"] = metrics(every)
    print(f"{'all':<18} {report['sets']['all']}")
    fit = report["fit"]
    out = ROOT / "bench" / "results" / (f"matching-refit-{fit['encoder_text']}-{fit['pseudo_queries']}"
                                        f"-x{fit['dense_factor']:g}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
