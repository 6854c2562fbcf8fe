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


def test_a_record_tells_one_coherent_story():
    """Title, abstract, claims, IPC codes and field come from one product of one field: no offshore-wind title
    over a tunnelling abstract, no codes of another product."""
    from app.demo.generator import THEMES
    from app.patents.fields import field_for_ipc

    products = {p.name: (theme.field, p) for theme in THEMES for p in theme.products}
    for record in generate_patents(600):
        field, product = products[record["_product"]]
        assert record["_theme"] == field
        assert set(record["ipc_codes"]) <= set(product.ipc) and record["ipc_codes"][0] == product.ipc[0]
        assert field_for_ipc(record["ipc_codes"]) == field
        assert product.name in record["title"] and record["title"] in record["abstract"]
        assert all(part in record["abstract"] and part in record["claims"] for part in product.parts)
        assert any(effect in record["abstract"] for effect in product.effects)
        others = {name for name in products if name != product.name and name not in product.name}
        assert not any(name in record["abstract"] for name in others), record["abstract"]
        if product.material:
            assert record["patent_type"] == "invention"
