import pytest

from app.patents.fields import field_for_ipc
from app.patents.ipc import InvalidIPC, normalise_patent_ipc_codes, parse_ipc


@pytest.mark.parametrize(
    ("typed", "canonical", "depth"),
    [
        ("H01M10/0525", "H01M 10/0525", 5),
        ("H01M 10/0525", "H01M 10/0525", 5),
        ("h01m  10 / 0525", "H01M 10/0525", 5),
        ("H01M 10/00", "H01M 10/00", 4),
        ("H01M10", "H01M 10/00", 4),
        ("H01M", "H01M", 3),
        ("H01", "H01", 2),
        ("H", "H", 1),
        ("Ｈ０１Ｍ　１０／０５２５", "H01M 10/0525", 5),
        ("A01K 61/80", "A01K 61/80", 5),
    ],
)
def test_parses_common_spellings(typed, canonical, depth):
    code = parse_ipc(typed)
    assert code.canonical == canonical
    assert code.depth == depth


def test_levels_drill_down_from_section():
    assert parse_ipc("H01M10/0525").levels() == ["H", "H01", "H01M", "H01M 10/00", "H01M 10/0525"]
    assert parse_ipc("H01M 10/00").levels() == ["H", "H01", "H01M", "H01M 10/00"]


@pytest.mark.parametrize("typed", ["", "Z01M", "H1M", "H01MM", "H01M 10/", "H01M /0525", "H01M 12345/00", "钠电池"])
def test_rejects_non_codes(typed):
    with pytest.raises(InvalidIPC):
        parse_ipc(typed)


def test_patent_codes_are_subclass_or_finer_main_first_without_duplicates():
    assert normalise_patent_ipc_codes(["H01M10/0525", "H01M 10/0525", "H01M 4/58"]) == [
        "H01M 10/0525",
        "H01M 4/58",
    ]
    with pytest.raises(InvalidIPC, match="too coarse"):
        normalise_patent_ipc_codes(["H01"])


def test_field_is_derived_from_the_table_longest_prefix_first():
    assert field_for_ipc(["H01M 10/0525"]) == "新能源"
    assert field_for_ipc(["A61K 36/00"]) == "生物医药"
    assert field_for_ipc(["A61B 5/00"]) == "高端医疗器械"
    assert field_for_ipc(["G01N 33/53"]) == "生物医药"
    assert field_for_ipc(["C08L 67/02"]) == "新材料"
    assert field_for_ipc(["A01K 61/80"]) == "现代农业"
    # The main code wins; a code the table does not know is skipped.
    assert field_for_ipc(["F16B 1/00", "G06F 16/33"]) == "新一代信息技术"
    assert field_for_ipc(["F16B 1/00"]) is None
