"""Deterministic generator of plausible Chinese patent records (the project's own demo data).

Pure: no database. The seed command and the benchmarks use it; nothing here is copied
from real records. Numbers carry valid check characters and are unique per index.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from app.patents.numbers import check_character
from app.patents.terms import expiry_date


@dataclass(frozen=True)
class Theme:
    field: str
    ipc: tuple[str, ...]
    objects: tuple[str, ...]
    techniques: tuple[str, ...]
    effects: tuple[str, ...]
    uses: tuple[str, ...]


THEMES = (
    Theme("新能源", ("H01M 4/58", "H01M 10/0525", "H01M 10/054", "H02J 7/00", "H02S 40/22", "H01M 8/0206"),
          ("钠离子电池正极材料", "锂离子电池负极片", "固态电解质薄膜", "光伏组件支架", "储能变流器", "燃料电池双极板",
           "层状氧化物正极", "硅碳复合负极"),
          ("高温固相烧结", "喷雾干燥造粒", "原子层沉积包覆", "梯度掺杂", "模块化并联控制", "激光焊接密封"),
          ("提高了循环寿命和倍率性能", "降低了界面阻抗", "抑制了枝晶生长", "提升了能量转换效率", "降低了制造成本"),
          ("电动汽车动力电池", "大规模储能电站", "分布式光伏发电", "低温环境储能")),
    Theme("新材料", ("C08L 67/02", "C08K 3/04", "C22C 21/00", "C04B 35/10", "C01B 32/184"),
          ("石墨烯改性复合材料", "高强铝合金型材", "耐高温陶瓷涂层", "可降解聚酯薄膜", "碳纤维增强树脂"),
          ("原位聚合", "熔融共混挤出", "真空热压烧结", "溶胶凝胶法", "等离子喷涂"),
          ("显著提高了拉伸强度和韧性", "改善了耐腐蚀性能", "降低了材料密度", "提高了导热系数"),
          ("轨道交通车体", "航空结构件", "食品包装", "海洋防腐")),
    Theme("新一代信息技术", ("G06F 16/33", "G06N 3/08", "H04L 9/32", "G06T 7/00", "H04W 72/04"),
          ("知识图谱构建系统", "图像缺陷检测方法", "区块链数据存证平台", "边缘计算任务调度装置", "联邦学习训练框架"),
          ("深度卷积神经网络", "注意力机制", "同态加密", "多智能体强化学习", "增量索引"),
          ("提高了识别准确率", "降低了通信时延", "保障了数据隐私", "减少了计算资源消耗"),
          ("工业质检", "智慧城市", "供应链金融", "专利文本分析")),
    Theme("集成电路", ("H01L 21/02", "H01L 29/78", "H01L 23/367", "G11C 16/04"),
          ("碳化硅功率器件", "芯片封装散热结构", "存储单元读写电路", "晶圆键合方法"),
          ("离子注入", "化学机械抛光", "低温共烧", "自对准刻蚀"),
          ("降低了导通电阻", "提高了散热效率", "提升了良品率", "降低了漏电流"),
          ("新能源汽车电驱", "数据中心服务器", "消费电子")),
    Theme("生物医药", ("A61K 36/00", "A61K 9/20", "C12N 15/11", "A61P 35/00", "C12Q 1/68"),
          ("中药复方制剂", "缓释片剂", "基因编辑载体", "抗肿瘤化合物", "核酸检测试剂盒"),
          ("超临界萃取", "微球包埋", "定点突变", "高通量筛选", "等温扩增"),
          ("提高了生物利用度", "降低了毒副作用", "缩短了检测时间", "提高了靶向性"),
          ("慢性病治疗", "肿瘤早期筛查", "基层医疗机构")),
    Theme("智能制造", ("B25J 9/16", "G05B 19/418", "B23K 26/38", "B23Q 17/24"),
          ("协作机器人关节", "柔性生产线调度系统", "激光切割头", "机床在线检测装置", "自动导引搬运车"),
          ("视觉伺服", "数字孪生", "力位混合控制", "自适应补偿"),
          ("提高了定位精度", "缩短了换型时间", "降低了人工成本", "提高了加工一致性"),
          ("汽车零部件装配", "3C电子制造", "钢铁冶炼车间")),
    Theme("高端装备制造", ("E21D 9/06", "E21D 9/11", "B63B 35/00", "F01D 5/18"),
          ("盾构机刀盘", "盾构管片拼装机", "海上风电安装平台", "燃气轮机叶片冷却结构", "隧道掘进姿态控制系统"),
          ("耐磨堆焊", "液压同步控制", "多点测距", "拓扑优化"),
          ("延长了刀具寿命", "提高了掘进效率", "提高了施工安全性", "降低了维护频率"),
          ("城市地铁隧道", "跨海通道", "水利引水工程")),
    Theme("现代农业", ("A01K 61/80", "A01B 79/02", "A01G 9/14", "A01N 43/40", "A01D 41/12"),
          ("智能投饵机", "水稻插秧装置", "温室环境调控系统", "生物农药组合物", "联合收割机清选装置"),
          ("物联网传感", "变量施肥", "微生物发酵", "视觉识别"),
          ("减少了饲料浪费", "提高了作物产量", "降低了农药残留", "节省了人工"),
          ("水产养殖", "设施农业", "丘陵山区农机")),
    Theme("节能环保", ("C02F 3/30", "B01D 53/86", "B09B 3/00", "F23G 5/027"),
          ("污水脱氮除磷工艺", "烟气脱硝催化剂", "固废资源化处理系统", "餐厨垃圾发酵装置"),
          ("厌氧氨氧化", "选择性催化还原", "热解气化", "膜生物反应"),
          ("降低了运行能耗", "提高了去除率", "实现了资源回收", "减少了二次污染"),
          ("工业园区", "城镇污水处理厂", "钢铁烧结烟气")),
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁沈任姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰飞鹏宇浩然子轩思远晨曦佳怡嘉欣振东志强建国海波雪梅"

TITLE_PATTERNS = (
    "一种{obj}及其制备方法",
    "一种基于{tech}的{obj}",
    "{obj}的{tech}方法",
    "一种用于{use}的{obj}",
    "一种{obj}",
)


def application_number(year: int, type_digit: str, serial: int) -> str:
    digits = f"{year:04d}{type_digit}{serial:07d}"
    return f"CN{digits}.{check_character(digits)}"


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def generate_patent(index: int, seed: int = 2026, today: date | None = None) -> dict:
    """The index-th generated patent; the same (index, seed) always gives the same record."""
    rng = random.Random(seed * 1_000_003 + index)
    today = today or date(2026, 11, 1)
    theme = THEMES[rng.randrange(len(THEMES))]
    roll = rng.random()
    type_digit, patent_type = ("1", "invention") if roll < 0.75 else ("2", "utility_model")
    year = rng.randint(2012, 2025)
    filing = date(year, 1, 1) + timedelta(days=rng.randrange(365))
    # 7919 is prime to 10**7, so serials are distinct for the first ten million indexes.
    serial = (index * 7919 + seed) % 10**7
    obj, tech = rng.choice(theme.objects), rng.choice(theme.techniques)
    effect, other_effect = rng.sample(theme.effects, 2)
    use = rng.choice(theme.uses)
    title = rng.choice(TITLE_PATTERNS).format(obj=obj, tech=tech, use=use)
    if patent_type == "utility_model":
        title = title.replace("及其制备方法", "").replace("方法", "装置")
    kind = "本发明" if patent_type == "invention" else "本实用新型"
    abstract = (
        f"{kind}公开了{title.removeprefix('一种')}，涉及{theme.field}技术领域。"
        f"{kind}采用{tech}工艺，对{obj}的结构与组成进行了改进，"
        f"{effect}。与现有技术相比，还{other_effect}，可广泛应用于{use}。"
    )
    codes = list(dict.fromkeys([rng.choice(theme.ipc), rng.choice(theme.ipc)]))
    examination = 3 if patent_type == "invention" else 1
    granted = date(min(year + examination + rng.randint(0, 1), today.year), 1, 1) + timedelta(days=rng.randrange(300))
    if granted <= today and rng.random() < 0.9:
        legal_status, grant_date = "valid", max(granted, filing + timedelta(days=180))
    else:
        legal_status, grant_date = "pending", None
    if expiry_date(patent_type, filing) < today:
        legal_status = "lapsed"
    return {
        "application_number": application_number(year, type_digit, serial),
        "title": title,
        "abstract": abstract,
        "ipc_codes": codes,
        "patent_type": patent_type,
        "legal_status": legal_status,
        "filing_date": filing,
        "grant_date": grant_date,
        "inventors": [_name(rng) for _ in range(rng.randint(1, 4))],
        "field": None,
        "_theme": theme.field,
    }


def generate_patents(count: int, seed: int = 2026, start: int = 0) -> Iterator[dict]:
    for index in range(start, start + count):
        yield generate_patent(index, seed)
