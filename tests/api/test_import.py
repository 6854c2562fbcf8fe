import io
import json
import zipfile

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from app.auth.models import SYSTEM
from app.imports.files import read_rows
from app.imports.jobs import run_import
from app.imports.models import ImportJob
from app.jobs import run_due
from app.jobs.models import Job
from app.patents.importer import import_records
from app.patents.models import Listing, Patent
from app.patents.numbers import check_character

from .. import factories


def num(serial: int, type_digit: str = "1", year: int = 2020) -> str:
    digits = f"{year}{type_digit}{serial:07d}"
    return f"{digits}.{check_character(digits)}"


def jsonl(records) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()


SHARED_STYLE = [
    # The keys of ../shared/data/cn_patents.jsonl.
    {"app_number": "CN" + num(1), "title": "一种水稻育秧盘", "abstract": "本发明涉及育秧。", "ipc": ["A01G 9/10"],
     "ipc_main": "A01G", "applicant": "沪东理工大学", "app_year": 2020, "app_date": "2020-04-01",
     "patent_type": "发明", "legal_status": None},
    {"app_number": None, "title": "没有申请号的记录", "ipc": ["A01B"]},
    {"app_number": num(2)[:-1] + ("1" if num(2)[-1] != "1" else "2"), "title": "校验位错误", "ipc": ["A01B"]},
    {"app_number": num(3), "title": "一种鱼塘投饵机", "ipc": "A01K 61/80; A01K 61/85", "patent_type": "发明",
     "app_date": "2020/6/1", "inventors": "王伟、李娜"},
    {"app_number": num(4), "title": "分类号不对", "ipc": ["nonsense"]},
]


def test_jsonl_import_reports_bad_rows_and_keeps_good_ones(session, world):
    rows = read_rows("inventory.jsonl", io.BytesIO(jsonl(SHARED_STYLE)))
    report = import_records(SYSTEM, world.uni.org.id, rows)
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 0, 0)
    assert [(e["row"], e["field"], e["reason"]) for e in report["errors"]] == [
        (2, "application_number", "missing_application_number"),
        (3, "application_number", "invalid_application_number"),
        (5, "ipc_codes", "invalid_ipc"),
    ]
    feeder = session.scalar(sa.select(Patent).where(Patent.title == "一种鱼塘投饵机"))
    assert feeder.ipc_codes == ["A01K 61/80", "A01K 61/85"] and feeder.inventors == ["王伟", "李娜"]
    assert feeder.field == "现代农业" and feeder.legal_status == "valid"
    assert feeder.filing_date.isoformat() == "2020-06-01"
    rice = session.scalar(sa.select(Patent).where(Patent.title == "一种水稻育秧盘"))
    assert rice.ipc_codes[0] == "A01G"


def test_rerun_changes_nothing_and_changed_rows_update(session, world):
    def run(records):
        return import_records(SYSTEM, world.uni.org.id, read_rows("x.jsonl", io.BytesIO(jsonl(records))),
                              list_mode="assignment")

    first = run(SHARED_STYLE)
    assert first["created"] == 2 and first["listed"] == 2
    second = run(SHARED_STYLE)
    assert (second["created"], second["updated"], second["unchanged"], second["listed"]) == (0, 0, 2, 0)
    changed = [dict(SHARED_STYLE[0], title="一种改进的水稻育秧盘")]
    assert run(changed)["updated"] == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 2


def test_another_organisations_patent_is_not_overwritten(session, world):
    theirs = factories.patent(world.other_uni.org)
    record = {"app_number": theirs.application_number, "title": "抢注", "ipc": ["A01B"]}
    report = import_records(SYSTEM, world.uni.org.id, read_rows("x.jsonl", io.BytesIO(jsonl([record]))))
    assert report["errors"][0]["reason"] == "owned_by_another_organization"


def test_csv_with_chinese_headers_and_gbk(session, world):
    text = "申请号,专利名称,分类号,法律状态,申请日\n" + f"{num(10)},一种盾构机刀盘,E21D 9/06,有效,2020-02-02\n" + \
        f"{num(11, '2')},一种管片拼装机,E21D 11/40,失效,2020-03-03\n"
    report = import_records(SYSTEM, world.uni.org.id, read_rows("inv.csv", io.BytesIO(text.encode("gb18030"))))
    assert report["created"] == 2 and not report["errors"]
    lapsed = session.scalar(sa.select(Patent).where(Patent.title == "一种管片拼装机"))
    assert lapsed.legal_status == "lapsed" and lapsed.patent_type == "utility_model"


def xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, actor, content: bytes, name: str, **form):
    return client.post("/api/v1/imports", headers=actor.headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(content), name), **form})


def test_upload_is_a_job_with_progress_and_paged_errors(client, world, session):
    content = xlsx([["application_number", "title", "ipc", "filing_date"],
                    [num(20), "一种储能变流器", "H02J 7/00", "2020-05-05"],
                    [num(21), "", "H02J 7/00", "2020-05-05"]])
    response = upload(client, world.uni, content, "inv.xlsx", list_mode="assignment", outlet_codes=["baoshan"])
    assert response.status_code == 202, response.json
    job = response.get_json()
    assert job["status"] == "queued" and job["total_rows"] == 2 and job["processed_rows"] == 0
    # Nothing was imported inside the request.
    assert session.scalar(sa.select(sa.func.count()).select_from(Patent)) == 0
    assert run_due(kinds=["imports.run"]) == 1
    done = client.get(f"/api/v1/imports/{job['id']}", headers=world.uni.headers).get_json()
    assert (done["status"], done["processed_rows"], done["created"], done["listed"], done["failed"]) == (
        "done", 2, 1, 1, 1)
    errors = client.get(f"/api/v1/imports/{job['id']}/errors?page_size=1", headers=world.uni.headers).get_json()
    assert errors["total"] == 1 and errors["items"] == [
        {"row": 3, "field": "title", "reason": "missing_title", "message": "the record has no title"}]
    drafts = client.get("/api/v1/listings?status=draft", headers=world.uni.headers).get_json()["items"]
    assert drafts[0]["outlet_codes"] == ["baoshan"]
    listed = client.get("/api/v1/imports", headers=world.uni.headers).get_json()
    assert [item["id"] for item in listed["items"]] == [job["id"]]
    assert client.get("/api/v1/imports", headers=world.other_uni.headers).get_json()["total"] == 0
    assert client.get(f"/api/v1/imports/{job['id']}", headers=world.other_uni.headers).status_code == 404


def test_the_old_path_is_an_alias_of_the_job(client, world):
    response = client.post("/api/v1/patents/import", headers=world.uni.headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(jsonl([SHARED_STYLE[0]])), "x.jsonl")})
    assert response.status_code == 202 and response.get_json()["status"] == "queued"


def test_upload_rules(client, world):
    def post(actor, data):
        return client.post("/api/v1/imports", headers=actor.headers, content_type="multipart/form-data", data=data)

    records = io.BytesIO(jsonl([SHARED_STYLE[0]]))
    assert post(world.uni, {"file": (records, "x.jsonl"), "list_mode": "assignment",
                            "publish": "true"}).get_json()["reason"] == "publish_requires_staff"
    assert post(world.uni, {"file": (io.BytesIO(b"x"), "x.pdf")}).get_json()["reason"] == "unsupported_file_type"
    assert post(world.uni, {}).status_code == 422
    assert post(world.enterprise, {"file": (io.BytesIO(b""), "x.jsonl")}).status_code == 403
    staff = post(world.staff, {"file": (io.BytesIO(jsonl([SHARED_STYLE[0]])), "x.jsonl"), "list_mode": "assignment",
                               "publish": "true", "owner_organization_id": str(world.uni.org.id)})
    assert staff.status_code == 202
    run_due()
    done = client.get(f"/api/v1/imports/{staff.get_json()['id']}", headers=world.staff.headers).get_json()
    assert done["listed"] == 1
    assert client.get("/api/v1/listings").get_json()["total"] == 1


@pytest.mark.parametrize("name, content", [
    ("garbage.xlsx", bytes(range(256)) * 40),
    ("garbage.csv", b"\x00\xff\xfe" + bytes(range(256)) * 40),
    ("notjson.jsonl", b"this is not json\n"),
    ("fake.xlsx", b"PK\x03\x04 but not really a zip"),
])
def test_a_file_that_is_not_what_its_name_says_is_422(client, world, name, content):
    response = upload(client, world.uni, content, name)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["reason"] == "unreadable_file"
    assert response.get_json()["errors"] == {"file": [response.get_json()["message"]]}


def test_a_zip_bomb_named_xlsx_is_refused_without_inflating_it(client, world):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", "<" + "a" * (60 * 1024 * 1024) + ">")
    assert len(buffer.getvalue()) < 200_000
    response = upload(client, world.uni, buffer.getvalue(), "bomb.xlsx")
    assert response.status_code == 422 and "decompression bomb" in response.get_json()["message"]


def test_caps_on_rows_and_columns(client, world, app):
    csv_text = "申请号,专利名称\n" + "".join(f"{num(i)},名称{i}\n" for i in range(30, 36))
    original = app.config["IMPORT_MAX_ROWS"]
    app.config["IMPORT_MAX_ROWS"] = 5
    try:
        too_many = upload(client, world.uni, csv_text.encode(), "inv.csv")
    finally:
        app.config["IMPORT_MAX_ROWS"] = original
    assert too_many.status_code == 413 and too_many.get_json()["reason"] == "too_many_rows"
    no_number = upload(client, world.uni, "名称,分类号\n一种刀盘,E21D 9/06\n".encode(), "inv.csv")
    assert no_number.status_code == 422 and no_number.get_json()["reason"] == "missing_columns"


def test_a_worker_that_dies_mid_file_loses_at_most_a_batch_and_the_rerun_resumes(app, world, session):
    records = [{"app_number": num(100 + i), "title": f"一种测试装置{i}", "ipc": ["A01B 1/00"]} for i in range(7)]
    record = factories.import_job(world.uni.user, records)
    app.config["IMPORT_BATCH_ROWS"] = 3
    try:
        def die_after_first_batch(done, total):
            raise RuntimeError("worker killed")

        with pytest.raises(RuntimeError):
            run_import(record.id, progress=die_after_first_batch)
        session.rollback()
        half = session.get(ImportJob, record.id, populate_existing=True)
        assert (half.status, half.processed_rows, half.created) == ("running", 3, 3)
        finished = run_import(record.id)
    finally:
        app.config["IMPORT_BATCH_ROWS"] = 500
    assert (finished.status, finished.processed_rows, finished.created, finished.unchanged) == ("done", 7, 7, 0)
    assert session.scalar(sa.select(sa.func.count()).select_from(Patent)) == 7


def test_publishing_an_import_never_scores_demands_in_the_import(app, world, session):
    factories.demand(world.enterprise.user)
    record = factories.import_job(world.staff.user, SHARED_STYLE, owner_organization_id=world.uni.org.id,
                                  list_mode="assignment", publish=True)
    run_due(kinds=["imports.run"])
    assert session.get(ImportJob, record.id).listed == 2
    queued = session.scalars(sa.select(Job).where(Job.kind == "demands.notify_matching")).all()
    assert len(queued) == 1 and len(queued[0].payload["listing_ids"]) == 2 and queued[0].status == "queued"


def test_cli_import_with_progress(app, world, tmp_path, session):
    path = tmp_path / "inventory.jsonl"
    path.write_bytes(jsonl(SHARED_STYLE))
    result = app.test_cli_runner().invoke(args=["patents", "import", str(path), "--owner", "沪东理工大学",
                                                "--outlet", "baoshan", "--list", "assignment", "--publish"])
    # Three rows failed: the good ones stay, and the exit code says that not everything went in.
    assert result.exit_code == 1, result.output
    assert "created 2, updated 0, unchanged 0, listings 2, errors 3" in result.output
    assert "row 2: application_number: missing_application_number" in result.output
    assert session.scalar(sa.select(sa.func.count()).select_from(Listing).where(Listing.status == "listed")) == 2
    good = tmp_path / "good.jsonl"
    good.write_bytes(jsonl([SHARED_STYLE[0], SHARED_STYLE[3]]))
    rerun = app.test_cli_runner().invoke(args=["patents", "import", str(good), "--owner", str(world.uni.org.id)])
    assert rerun.exit_code == 0 and "created 0, updated 0, unchanged 2" in rerun.output
    missing = app.test_cli_runner().invoke(args=["patents", "import", str(path), "--owner", "无此单位"])
    assert missing.exit_code != 0 and "no organisation" in missing.output
    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"not a workbook")
    unreadable = app.test_cli_runner().invoke(args=["patents", "import", str(garbage), "--owner", "沪东理工大学"])
    assert unreadable.exit_code != 0 and "not an XLSX workbook" in unreadable.output


def test_uploads_have_their_own_size_cap(client, world, app):
    """An inventory is bigger than any other request body; past IMPORT_MAX_BYTES it is 413 in the one format."""
    line = "".join(f"{num(i)},一种测试用的装置及其方法{i:06d}{'试' * 300}\n" for i in range(200, 4200))
    body = ("申请号,专利名称\n" + line).encode()
    assert app.config["MAX_CONTENT_LENGTH"] < len(body) < app.config["IMPORT_MAX_BYTES"]
    accepted = upload(client, world.uni, body, "big.csv")
    assert accepted.status_code == 202, accepted.get_json()
    original = app.config["IMPORT_MAX_BYTES"]
    app.config["IMPORT_MAX_BYTES"] = len(body) // 2
    try:
        refused = upload(client, world.uni, body, "big.csv")
    finally:
        app.config["IMPORT_MAX_BYTES"] = original
    assert refused.status_code == 413 and refused.get_json()["code"] == 413
    too_big = client.post("/api/v1/demands", headers=world.enterprise.headers, content_type="application/json",
                          data=b'{"title": "' + b"x" * len(body) + b'"}')
    assert too_big.status_code == 413
