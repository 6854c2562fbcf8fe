from app.demo.generator import generate_patent, generate_patents
from app.patents.ipc import normalise_patent_ipc_codes
from app.patents.numbers import parse_application_number


def test_generated_patents_are_valid_unique_and_deterministic():
    records = list(generate_patents(3000))
    assert len({r["application_number"] for r in records}) == 3000
    for record in records:
        number = parse_application_number(record["application_number"])
        assert number.patent_type == record["patent_type"]
        assert record["filing_date"].year == number.filing_year
        assert normalise_patent_ipc_codes(record["ipc_codes"]) == record["ipc_codes"]
        assert record["title"] and record["abstract"]
        if record["grant_date"]:
            assert record["grant_date"] > record["filing_date"]
    assert generate_patent(42) == generate_patent(42)
    assert generate_patent(42) != generate_patent(42, seed=7)
