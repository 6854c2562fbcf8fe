"""Plain documents for the contract suite, in the shape app/indexing/documents.py produces."""

from app.patents.ipc import all_levels, parse_ipc


def doc(doc_id: int, title: str, abstract: str = "", *, ipc=("H01M 10/0525",), field="新能源", mode="assignment",
        status="listed", price_fen=1_000_000, negotiable=False, outlets=("baoshan",), owner_id=1,
        owner_name="沪东理工大学", patent_type="invention", legal_status="valid", listed_at="2026-10-01T00:00:00+00:00",
        expires_on="2040-01-01", inventors=("王伟",), application_number=None, publication_number=None, claims=None):
    parsed = [parse_ipc(code) for code in ipc]
    return {
        "id": doc_id, "patent_id": doc_id + 1000, "title": title, "abstract": abstract, "claims": claims,
        "application_number": application_number or f"CN2021100{doc_id:05d}.0",
        "publication_number": publication_number, "ipc_codes": list(ipc), "ipc_levels": all_levels(list(ipc)),
        "ipc_section": sorted({c.section for c in parsed}), "ipc_class": sorted({c.section + c.cls for c in parsed}),
        "ipc_subclass": sorted({c.subclass_code for c in parsed}), "field": field, "patent_type": patent_type,
        "legal_status": legal_status, "mode": mode, "status": status, "price_fen": price_fen,
        "negotiable": negotiable, "outlet_codes": list(outlets), "owner_id": owner_id, "owner_name": owner_name,
        "inventors": list(inventors), "listed_at": listed_at, "expires_on": expires_on,
    }


CATALOGUE = [
    doc(1, "一种钠离子电池正极材料及其制备方法", "本发明公开了一种层状氧化物正极材料，提高了循环寿命。",
        ipc=("H01M 4/58", "H01M 10/054"), price_fen=50_000_000, listed_at="2026-09-01T00:00:00+00:00"),
    doc(2, "一种储能变流器的控制方法", "用于钠离子电池储能电站的功率控制，降低损耗。", ipc=("H02J 7/00",),
        price_fen=5_000_000, outlets=("wuxi",), owner_id=2, owner_name="太湖科技大学",
        listed_at="2026-10-05T00:00:00+00:00", expires_on="2035-01-01"),
    doc(3, "盾构机刀盘及其耐磨堆焊方法", "涉及隧道掘进装备，延长刀具寿命。", ipc=("E21D 9/06",), field="高端装备制造",
        mode="exclusive_license", price_fen=None, negotiable=True, outlets=("baoshan", "wuxi"), owner_id=2,
        owner_name="太湖科技大学", listed_at="2026-10-10T00:00:00+00:00", expires_on="2044-01-01"),
    doc(4, "一种智能投饵机", "解决鱼塘形状不规则时投喂不均匀的问题。", ipc=("A01K 61/80",), field="现代农业",
        mode="nonexclusive_license", price_fen=800_000, outlets=("huzhou",), owner_id=3, owner_name="之江农林大学",
        patent_type="utility_model", listed_at="2026-08-01T00:00:00+00:00", expires_on="2031-01-01"),
    doc(5, "一种锂离子电池负极片", "硅碳复合负极，降低界面阻抗。", ipc=("H01M 4/38",), price_fen=200_000_000,
        status="draft", listed_at=None, owner_id=3, owner_name="之江农林大学"),
    doc(6, "图像缺陷检测方法", "基于深度卷积神经网络的工业质检，电池极片表面缺陷识别。", ipc=("G06T 7/00",),
        field="新一代信息技术", price_fen=600_000_000, owner_id=1, listed_at="2026-10-20T00:00:00+00:00",
        publication_number="CN114081026A"),
]
