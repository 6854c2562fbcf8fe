"""Matching that a new exchange can trust: the engine's ranking when no model can be trusted, scores that
read as probabilities, and the background work that keeps a model up with the catalogue."""

import sqlalchemy as sa

from app.demands import encoder, freshness
from app.demands.analysis import doc_body
from app.demands.models import PassageVector
from app.demands.retraining import train_from_database
from app.demands.text import passage, passage_hash
from app.extensions import db
from app.imports.models import ImportJob
from app.indexing.indexer import backend, drain
from app.indexing.service import PUBLISHED
from app.jobs import run_due
from app.jobs.models import Job
from app.patents.numbers import check_character

from .. import factories
from .test_matching import CATALOGUE, DEMAND, catalogue, matches  # noqa: F401 - the fixture

PLAIN = {"title": DEMAND["title"], "description": DEMAND["description"]}


def engine_order(demand):
    return [doc_id for doc_id, _ in backend().rank_text(f"{demand.title}。{demand.description}", PUBLISHED, 50)]


def test_without_a_model_matching_keeps_the_engines_ranking(client, world, catalogue):  # noqa: F811
    demand = factories.demand(world.enterprise.user, **PLAIN)
    body = matches(client, world.enterprise, demand.id, limit=50)
    assert body["model"] == "none" and body["ranked_by"] == "engine"
    assert [item["listing_id"] for item in body["items"]] == engine_order(demand)
    assert body["items"][0]["listing_id"] == catalogue["一种自动投饵装置"].id
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(item["strong_match"] == (item["score"] >= body["strong_score"]) for item in body["items"])


def test_a_demand_with_nothing_fitting_has_low_scores_and_no_strong_match(client, world, catalogue):  # noqa: F811
    """Cat food in a catalogue of fish ponds, batteries and tunnels: whatever shares a word with it is
    shown, at a low score, and never as a strong match."""
    demand = factories.demand(world.enterprise.user, title="猫粮适口性差",
                              description="我们生产宠物猫粮，猫不爱吃，希望改进配方和生产线，提高适口性。")
    body = matches(client, world.enterprise, demand.id)
    assert not any(item["strong_match"] for item in body["items"])
    assert all(item["score"] < body["strong_score"] for item in body["items"])
    for item in body["items"]:
        assert not {"和", "的", "我们", "希望"} & set(item["reasons"]["matched_terms"])


def test_a_stale_model_gives_way_to_the_engine_and_a_retrain_is_scheduled(client, app, world, catalogue,  # noqa: F811
                                                                           tmp_path):
    model_dir = tmp_path / "model"
    train_from_database(model_dir, dimensions=16, pseudo_queries=60)
    app.config["MATCHING_MODEL_DIR"] = str(model_dir)
    try:
        freshness.forget()
        model = freshness.current_model()
        fresh = freshness.measure(model)
        assert fresh.serving and not fresh.retrain_due and fresh.new == 0 and fresh.coverage == 1.0
        demand = factories.demand(world.enterprise.user, **PLAIN)
        assert matches(client, world.enterprise, demand.id)["ranked_by"] == "model"
        # An import doubles the catalogue: the model has seen half of it.
        for i in range(len(CATALOGUE)):
            factories.listing(factories.patent(world.uni.org, title=f"一种导入的专利{i}号设备",
                                               abstract="导入的存量专利，说明书摘要。", ipc_codes=["G06F 17/00"]),
                              "listed")
        drain()
        freshness.forget()
        fresh = freshness.measure(model)
        assert fresh.new == len(CATALOGUE) and fresh.coverage < 0.8 and not fresh.serving and fresh.retrain_due
        body = matches(client, world.enterprise, demand.id, limit=50)
        assert body["model"] == "none" and body["ranked_by"] == "engine"
        assert [item["listing_id"] for item in body["items"]] == engine_order(demand)
        assert freshness.schedule_retrain_if_due() is True
        assert freshness.schedule_retrain_if_due() is False  # one retrain at a time
        db.session.commit()
        queued = db.session.scalars(sa.select(Job).where(Job.kind == "matching.train")).all()
        assert len(queued) == 1 and queued[0].status == "queued"
        ready = client.get("/readyz").get_json()["checks"]["matching"]
        assert ready["model"] == model.version and ready["ranked_by"] == "engine" and ready["retrain_due"] is True
        assert ready["coverage"] < 0.8 and ready["age_seconds"] >= 0
    finally:
        app.config["MATCHING_MODEL_DIR"] = None
        freshness.forget()


def test_the_retrain_job_trains_at_low_priority_with_progress(app, world, catalogue, tmp_path):  # noqa: F811
    model_dir = tmp_path / "model"
    app.config["MATCHING_MODEL_DIR"] = str(model_dir)
    try:
        assert freshness.schedule_retrain_if_due() is True  # no model at all: due as soon as there are patents
        db.session.commit()
        run_due(kinds=["matching.train"])
        job = db.session.scalars(sa.select(Job).where(Job.kind == "matching.train")).one()
        assert job.status == "done", job.last_error
        assert job.progress_done == job.progress_total and job.progress_total > 1
        freshness.forget()
        model = freshness.current_model()
        assert model is not None and model.calibration and model.meta["trained_at"]
        fresh = freshness.measure(model)
        assert fresh.serving and not fresh.retrain_due
    finally:
        app.config["MATCHING_MODEL_DIR"] = None
        freshness.forget()


def test_new_listings_passages_are_encoded_in_the_background_not_in_the_match(client, app, world, catalogue,  # noqa: F811
                                                                             tmp_path, monkeypatch):
    model_dir = tmp_path / "model"
    train_from_database(model_dir, dimensions=16, pseudo_queries=60)
    app.config["MATCHING_MODEL_DIR"] = str(model_dir)
    try:
        freshness.forget()
        new = factories.listing(factories.patent(world.uni.org, title="一种鱼塘角落投饵装置",
                                                 abstract="把饲料均匀抛到不规则鱼塘的每个角落。",
                                                 ipc_codes=["A01K 61/80"]), "listed")
        drain()
        model = freshness.current_model()
        todo = freshness.passages_to_encode(model)
        assert [pid for pid, _, _ in todo] == [new.patent_id]  # the model knows every other one
        # A match never encodes a listing: the new one simply has no passage vector until the job ran.
        real = encoder.passages
        monkeypatch.setattr(encoder, "passages", lambda *a, **k: (_ for _ in ()).throw(AssertionError("encoded")))
        demand = factories.demand(world.enterprise.user, **PLAIN)
        assert matches(client, world.enterprise, demand.id)["ranked_by"] == "model"
        monkeypatch.setattr(encoder, "passages", real)
        assert freshness.encode_passages_now() == 1
        stored = db.session.get(PassageVector, new.patent_id)
        patent = new.patent
        assert stored.text_hash == passage_hash(passage(patent.title, doc_body(patent.abstract, patent.claims)))
        assert freshness.passages_to_encode(model) == []
        vectors = model.passage_vectors_of([(patent.id, patent.title, doc_body(patent.abstract, patent.claims))],
                                           freshness.stored_passages([patent.id]))
        assert vectors[0] is not None and abs(float(vectors[0] @ vectors[0]) - 1.0) < 1e-3
        # An edit makes the stored vector stale: the passage is encoded again.
        patent.abstract = "一种全新的摘要，讲的是增氧。"
        db.session.commit()
        assert [pid for pid, _, _ in freshness.passages_to_encode(model)] == [patent.id]
    finally:
        app.config["MATCHING_MODEL_DIR"] = None
        freshness.forget()


def test_the_reverse_view_follows_new_edited_and_closed_demands(client, world, catalogue):  # noqa: F811
    """The open demands' analyses are kept per process: every call sees what changed since the last."""
    feeder = catalogue["一种自动投饵装置"]

    def fitting():
        response = client.get(f"/api/v1/listings/{feeder.id}/matching-demands?limit=50", headers=world.staff.headers)
        assert response.status_code == 200, response.get_json()
        return [item["demand"]["id"] for item in response.get_json()["items"]]

    fish = factories.demand(world.enterprise.user, **PLAIN)
    tunnel = factories.demand(world.enterprise.user, title="隧道掘进刀具磨损快",
                              description="盾构施工中刀盘刀具磨损严重，希望降低换刀频率。")
    assert fitting()[:1] == [fish.id] and tunnel.id not in fitting()
    edited = client.patch(f"/api/v1/demands/{tunnel.id}", headers=world.enterprise.headers,
                          json={"title": "鱼塘角落喂不到饲料", "description": "不规则鱼塘，希望饲料均匀撒到每个角落。"})
    assert edited.status_code == 200, edited.get_json()
    assert tunnel.id in fitting()
    closed = client.post(f"/api/v1/demands/{fish.id}/close", headers=world.enterprise.headers)
    assert closed.status_code in (200, 204), closed.get_json()
    assert fish.id not in fitting()


def test_an_import_that_outgrows_the_model_schedules_a_retrain(app, world, catalogue, tmp_path):  # noqa: F811
    model_dir = tmp_path / "model"
    train_from_database(model_dir, dimensions=16, pseudo_queries=60)
    app.config["MATCHING_MODEL_DIR"] = str(model_dir)
    try:
        records = [{"app_number": f"2021100{i:05d}", "title": f"一种导入的储能电池管理装置{i}",
                    "abstract": "电池簇的均衡管理。", "ipc": ["H02J 7/00"]} for i in range(len(CATALOGUE))]
        for record in records:  # valid application numbers: the check character of each
            record["app_number"] += "." + check_character(record["app_number"])
        job = factories.import_job(world.staff.user, records, owner_organization_id=world.uni.org.id,
                                   list_mode="assignment", publish=True)
        run_due(kinds=["imports.run"])
        assert db.session.get(ImportJob, job.id).listed == len(CATALOGUE)
        kinds = {j.kind for j in db.session.scalars(sa.select(Job).where(Job.status == "queued"))}
        assert {"matching.encode_passages", "matching.check"} <= kinds
        run_due(kinds=["matching.check"])
        assert db.session.scalars(sa.select(Job).where(Job.kind == "matching.train")).one().status == "queued"
        # The model has seen half the catalogue now: the retrain encodes the passages, not this job.
        run_due(kinds=["matching.encode_passages"])
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PassageVector)) == 0
    finally:
        app.config["MATCHING_MODEL_DIR"] = None
        freshness.forget()


def test_the_encoding_job_does_a_bounded_share_and_queues_the_rest(app, world, catalogue, tmp_path, monkeypatch):  # noqa: F811
    model_dir = tmp_path / "model"
    train_from_database(model_dir, dimensions=16, pseudo_queries=60)
    app.config["MATCHING_MODEL_DIR"] = str(model_dir)
    monkeypatch.setattr(freshness, "ENCODE_PER_RUN", 2)
    try:
        for i in range(3):
            factories.listing(factories.patent(world.uni.org, title=f"一种鱼塘投饵装置{i}号", abstract="投饵。",
                                               ipc_codes=["A01K 61/80"]), "listed")
        db.session.commit()
        freshness.forget()
        db.session.execute(sa.delete(Job).where(Job.kind == "matching.encode_passages"))
        freshness.enqueue("matching.encode_passages", {})
        db.session.commit()
        run_due(kinds=["matching.encode_passages"])  # 2, then a follow-up queued behind the rest: 1
        runs = db.session.scalars(sa.select(Job).where(Job.kind == "matching.encode_passages")).all()
        assert [j.status for j in runs] == ["done", "done"] and [j.progress_total for j in runs] == [2, 1]
        assert freshness.passages_to_encode(freshness.current_model()) == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PassageVector)) == 3
    finally:
        app.config["MATCHING_MODEL_DIR"] = None
        freshness.forget()


def test_a_model_whose_passages_read_less_of_the_abstract_keeps_its_vectors_and_is_retrained(
        app, world, catalogue, tmp_path, monkeypatch):  # noqa: F811
    """A release that reads more of an abstract into a passage than the model was trained with: the
    model's own vectors still serve (no listing loses its dense feature, nothing is encoded in the
    new way beside the old), and a retrain is due."""
    from app.demands import training

    model_dir = tmp_path / "model"
    monkeypatch.setattr(training, "PASSAGE_CHARS", 8)
    train_from_database(model_dir, dimensions=16, pseudo_queries=60)
    monkeypatch.undo()
    app.config["MATCHING_MODEL_DIR"] = str(model_dir)
    try:
        freshness.forget()
        model = freshness.current_model()
        assert model.passage_chars == 8
        patents = [(lst.patent.id, lst.patent.title, doc_body(lst.patent.abstract, lst.patent.claims))
                   for key, lst in catalogue.items() if key != "draft"]
        assert all(v is not None for v in model.passage_vectors_of(patents))
        assert freshness.passages_to_encode(model) == []
        fresh = freshness.measure(model)
        assert fresh.serving and fresh.change_share == 0 and fresh.retrain_due
        assert freshness.schedule_retrain_if_due() is True
        db.session.commit()
        job = db.session.scalars(sa.select(Job).where(Job.kind == "matching.train")).one()
        assert "passages of 8 characters" in job.payload["reason"]
    finally:
        app.config["MATCHING_MODEL_DIR"] = None
        freshness.forget()
