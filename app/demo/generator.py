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
class Product:
    """One kind of thing a patent can be about, with what belongs to it and to nothing else: its IPC codes,
    parts, techniques, the problem it solves, its effects and uses. A record draws all of these from one
    product, so its title, abstract, claims, codes and field agree."""

    name: str
    ipc: tuple[str, ...]
    parts: tuple[str, ...]
    techniques: tuple[str, ...]
    problems: tuple[str, ...]
    effects: tuple[str, ...]
    uses: tuple[str, ...]
    material: bool = False  # made ("及其制备方法") rather than built


@dataclass(frozen=True)
class Theme:
    field: str
    products: tuple[Product, ...]


P = Product
THEMES = (
    Theme("新能源", (
        P("钠离子电池正极材料", ("H01M 4/58", "H01M 10/054"), ("层状氧化物内核", "碳包覆层", "掺杂元素"),
          ("高温固相烧结", "梯度掺杂", "喷雾干燥造粒"), ("循环过程中结构相变导致容量衰减快", "空气中易吸水变质"),
          ("提高了循环寿命", "提升了倍率性能", "改善了空气稳定性"), ("大规模储能电站", "低速电动车"), True),
        P("锂离子电池硅碳负极", ("H01M 4/36", "H01M 4/38", "H01M 10/0525"), ("纳米硅颗粒", "多孔碳骨架", "导电网络"),
          ("化学气相沉积", "球磨复合", "原位包覆"), ("硅在充放电中体积膨胀大、极片粉化", "首次库伦效率低"),
          ("抑制了体积膨胀", "提高了首次效率", "延长了循环寿命"), ("电动汽车动力电池", "消费电子电池"), True),
        P("光伏组件跟踪支架", ("H02S 20/32", "H02S 20/10", "F24S 30/425"), ("立柱", "主梁", "回转驱动器", "风速传感器"),
          ("双轴跟踪控制", "大风自动避险", "模块化装配"), ("固定支架发电量低", "大风天气组件易损坏"),
          ("提高了发电量", "增强了抗风能力", "降低了安装成本"), ("地面光伏电站", "农光互补项目")),
    )),
    Theme("新材料", (
        P("石墨烯改性防腐涂料", ("C08K 3/04", "C09D 5/08", "C09D 7/61"), ("环氧树脂基料", "石墨烯片层", "缓蚀填料"),
          ("超声分散", "表面接枝改性", "原位聚合"), ("涂层在海洋盐雾环境下易起泡脱落", "防腐寿命短"),
          ("显著提高了耐盐雾性能", "延长了防腐寿命", "减少了涂装道数"), ("海洋工程钢结构", "跨海桥梁"), True),
        P("高强韧铝合金型材", ("C22C 21/10", "C22F 1/053"), ("铝基体", "锌镁合金元素", "析出强化相"),
          ("双级时效", "微合金化", "热挤压成形"), ("强度高时韧性不足、易开裂", "焊接后强度下降明显"),
          ("提高了抗拉强度和断裂韧性", "改善了焊接性能", "减轻了结构重量"), ("轨道交通车体", "新能源汽车车身"), True),
        P("可降解聚乳酸薄膜", ("C08L 67/04", "C08J 5/18", "B65D 65/46"), ("聚乳酸基体", "增韧剂", "成核剂"),
          ("熔融共混挤出", "双向拉伸", "反应增容"), ("薄膜脆、易撕裂", "耐热性差，遇热变形"),
          ("提高了断裂伸长率", "提升了耐热温度", "可在堆肥条件下完全降解"), ("食品包装", "农用地膜"), True),
    )),
    Theme("新一代信息技术", (
        P("工业图像缺陷检测方法", ("G06T 7/00", "G06N 3/08", "G06V 10/82"),
          ("图像采集模块", "缺陷分割网络", "分级判定模块"),
          ("深度卷积神经网络", "注意力机制", "小样本迁移学习"), ("人工目检漏检率高、效率低", "缺陷样本少、模型难训练"),
          ("提高了缺陷识别准确率", "将单件检测时间缩短到百毫秒级", "减少了人工复检"),
          ("钢板表面质检", "锂电池极片检测")),
        P("区块链数据存证平台", ("H04L 9/32", "H04L 9/00", "G06F 21/64"), ("存证节点", "哈希摘要模块", "时间戳服务"),
          ("联盟链共识", "默克尔树", "零知识证明"), ("电子数据容易被篡改、取证困难", "多方之间缺乏互信"),
          ("保证了数据不可篡改", "缩短了取证时间", "保护了商业隐私"), ("知识产权存证", "供应链金融")),
        P("边缘计算任务调度装置", ("G06F 9/50", "H04L 67/10", "H04W 28/08"), ("边缘服务器", "任务队列", "负载预测模块"),
          ("多智能体强化学习", "时延感知调度", "动态卸载"), ("终端算力不足、云端时延大", "突发负载时任务排队"),
          ("降低了任务时延", "提高了资源利用率", "减少了能耗"), ("智慧工厂", "车联网")),
    )),
    Theme("集成电路", (
        P("碳化硅功率器件", ("H01L 29/78", "H01L 29/16", "H01L 21/04"), ("碳化硅外延层", "沟槽栅极", "终端保护环"),
          ("离子注入", "高温退火", "自对准刻蚀"), ("导通电阻大、开关损耗高", "栅氧可靠性差"),
          ("降低了导通电阻", "降低了开关损耗", "提高了栅极可靠性"), ("新能源汽车电驱", "光伏逆变器")),
        P("芯片封装散热结构", ("H01L 23/367", "H01L 23/373", "H01L 23/40"), ("封装基板", "均热板", "导热界面材料"),
          ("低温烧结银", "微通道冷却", "倒装焊"), ("芯片结温过高导致降频", "热应力引起焊点开裂"),
          ("提高了散热效率", "降低了芯片结温", "提高了封装可靠性"), ("数据中心服务器", "功率模块")),
    )),
    Theme("生物医药", (
        P("核酸快速检测试剂盒", ("C12Q 1/6844", "C12Q 1/70"), ("引物探针组", "等温扩增反应液", "侧流层析试纸"),
          ("环介导等温扩增", "重组酶聚合酶扩增", "冻干保存"), ("检测依赖大型仪器、出结果慢", "基层缺乏专业人员"),
          ("将检测时间缩短到三十分钟以内", "无需复杂仪器", "提高了检测灵敏度"), ("基层医疗机构", "口岸现场筛查")),
        P("中药复方缓释片", ("A61K 36/9068", "A61K 9/22", "A61P 9/10"), ("中药提取物", "缓释骨架材料", "包衣层"),
          ("超临界二氧化碳萃取", "湿法制粒", "薄膜包衣"), ("汤剂服用不便、患者依从性差", "血药浓度波动大"),
          ("实现了平稳释药", "提高了生物利用度", "改善了患者依从性"), ("慢性心血管病治疗", "老年慢病管理"), True),
    )),
    Theme("智能制造", (
        P("协作机器人柔性关节", ("B25J 9/16", "B25J 17/02", "B25J 19/06"), ("谐波减速器", "力矩传感器", "双编码器"),
          ("力位混合控制", "碰撞检测", "自适应阻抗控制"), ("工业机器人与人协作时存在碰撞风险", "装配时力控精度不足"),
          ("提高了人机协作安全性", "提高了装配精度", "缩短了示教时间"), ("汽车零部件装配", "3C电子制造")),
        P("机床刀具磨损在线监测装置", ("B23Q 17/09", "G05B 19/4065", "B23Q 17/24"),
          ("振动传感器", "主轴电流采集模块", "磨损预测模型"),
          ("多传感器融合", "数字孪生", "剩余寿命预测"), ("刀具磨损靠经验判断、换刀不及时造成废品", "停机检测影响产能"),
          ("实现了刀具状态在线判断", "减少了废品率", "延长了刀具使用寿命"), ("航空结构件加工", "模具制造")),
    )),
    Theme("高端装备制造", (
        P("盾构机刀盘", ("E21D 9/06", "E21D 9/11", "E21D 9/087"), ("刀盘本体", "滚刀", "刮刀", "耐磨层"),
          ("耐磨堆焊", "刀具布置优化", "磨损在线检测"), ("硬岩地层中刀具磨损快、频繁停机换刀", "刀盘结泥饼"),
          ("延长了刀具寿命", "减少了换刀次数", "提高了掘进效率"), ("城市地铁隧道", "山岭隧道")),
        P("海上风电安装平台", ("B63B 35/00", "E02B 17/00", "F03D 13/10"),
          ("船体", "升降桩腿", "主吊机", "动力定位系统"),
          ("液压同步升降", "动力定位", "波浪补偿"), ("海况复杂时吊装窗口短", "桩腿插拔困难"),
          ("延长了可作业时间", "提高了吊装精度", "提高了施工安全性"), ("海上风电场建设", "海洋平台维护")),
        P("燃气轮机叶片冷却结构", ("F01D 5/18", "F01D 5/28", "F02C 7/18"),
          ("叶片本体", "内部冷却通道", "气膜孔", "热障涂层"),
          ("拓扑优化", "增材制造", "气膜冷却"), ("叶片在高温燃气中寿命短", "冷却气量大降低效率"),
          ("降低了叶片温度", "减少了冷却气用量", "延长了叶片寿命"), ("重型燃气轮机", "航空发动机")),
    )),
    Theme("现代农业", (
        P("池塘智能投饵机", ("A01K 61/80", "A01K 61/85"), ("料仓", "抛料盘", "水质传感器", "控制器"),
          ("物联网传感", "视觉识别鱼群", "变量投喂"), ("投喂不均匀、饲料浪费多", "人工投喂费时费力"),
          ("减少了饲料浪费", "提高了饲料利用率", "节省了人工"), ("池塘水产养殖", "工厂化循环水养殖")),
        P("温室环境智能调控系统", ("A01G 9/24", "A01G 9/14", "G05B 19/042"),
          ("温湿度传感器", "补光灯", "湿帘风机", "控制终端"),
          ("模型预测控制", "物联网传感", "作物生长模型"), ("温室温湿度靠人工经验调节、波动大", "冬季能耗高"),
          ("稳定了温湿度", "提高了作物产量", "降低了能耗"), ("设施蔬菜种植", "花卉育苗")),
        P("生物农药组合物", ("A01N 63/22", "A01N 63/30", "A01P 3/00"), ("枯草芽孢杆菌", "植物源助剂", "缓释载体"),
          ("微生物发酵", "微胶囊包埋", "复配增效"), ("化学农药残留高、病菌易产生抗药性", "生物制剂持效期短"),
          ("降低了农药残留", "延长了持效期", "提高了防治效果"), ("果蔬病害防治", "水稻纹枯病防治"), True),
    )),
    Theme("节能环保", (
        P("污水脱氮除磷工艺", ("C02F 3/30", "C02F 3/12", "C02F 101/16"), ("厌氧区", "缺氧区", "好氧区", "沉淀池"),
          ("厌氧氨氧化", "短程硝化", "精确曝气"), ("出水总氮超标", "曝气能耗高、碳源投加多"),
          ("提高了脱氮除磷效率", "降低了曝气能耗", "减少了碳源投加"), ("城镇污水处理厂", "工业园区废水")),
        P("烟气脱硝催化剂", ("B01D 53/86", "B01J 23/22", "B01D 53/56"), ("钛基载体", "钒钨活性组分", "蜂窝成型体"),
          ("选择性催化还原", "浸渍焙烧", "挤出成型"), ("低温下脱硝效率低", "催化剂易中毒失活"),
          ("拓宽了低温活性窗口", "提高了抗硫中毒能力", "延长了使用寿命"), ("钢铁烧结烟气", "燃煤锅炉"), True),
        P("餐厨垃圾发酵处理装置", ("B09B 3/00", "C05F 17/60", "C12M 1/107"),
          ("破碎分选单元", "油水分离器", "发酵罐", "除臭装置"),
          ("高温好氧发酵", "厌氧消化", "生物除臭"), ("餐厨垃圾含水高、易发臭", "处理周期长、占地大"),
          ("缩短了处理周期", "实现了资源回收", "减少了臭气排放"), ("城市餐厨垃圾处理", "大型食堂")),
    )),
)

# Demo demands in an enterprise's words (the problem and the goal, not a patent's phrases), each written
# for one product above so that a newcomer's first matches make sense: (organisation, title,
# description, the product it should find, budget in fen or None).
DEMO_DEMANDS = (
    ("申城新能源科技有限公司", "储能电池用久了容量掉得快",
     "我们做储能电站的电池包，现在用的电池循环几百次容量就明显下降，希望找到寿命更长、成本更低的电池材料，"
     "最好能在常温空气里稳定存放。", "钠离子电池正极材料", 3_000_000_00),
    ("锡山智能装备有限公司", "机床换刀全靠老师傅经验",
     "车间几十台数控机床，刀具什么时候该换全凭老师傅听声音判断，换晚了零件就报废，换早了浪费刀具，"
     "想要一套能在加工过程中判断刀具状态的办法。", "机床刀具磨损在线监测装置", 1_000_000_00),
    ("钱塘生物医药有限公司", "乡镇卫生院想快速查病毒",
     "我们想给乡镇卫生院配病毒检测，但那里没有PCR实验室也没有专业人员，希望拿到样本半小时内就能看结果。",
     "核酸快速检测试剂盒", 500_000_00),
    ("徽州现代农业发展有限公司", "鱼塘喂料不均匀",
     "我们的鱼塘形状不规则，喂料机喂不到角落，饲料撒得不均匀，浪费很大，想要能看鱼吃食情况自动调整的喂料设备。",
     "池塘智能投饵机", 200_000_00),
    ("锡山智能装备有限公司", "海边钢结构刷漆两年就起泡",
     "我们在沿海做钢结构，刷的防锈漆两三年就起泡掉皮，要反复返工，想找在盐雾环境下更耐用的防腐涂层。",
     "石墨烯改性防腐涂料", None),
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁沈任姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰飞鹏宇浩然子轩思远晨曦佳怡嘉欣振东志强建国海波雪梅"

# Titles of a made thing (a material, a composition) and of a built one (a device, a system, a method).
MATERIAL_TITLES = ("一种{obj}及其制备方法", "一种{obj}", "一种用于{use}的{obj}", "一种基于{tech}的{obj}及其制备方法")
BUILT_TITLES = ("一种{obj}", "一种基于{tech}的{obj}", "一种用于{use}的{obj}", "{obj}的{tech}方法")
UTILITY_TITLES = ("一种{obj}", "一种用于{use}的{obj}")


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
    product = rng.choice(theme.products)
    if product.material:  # a utility model protects a shape or structure, never a material
        type_digit, patent_type = "1", "invention"
    obj, tech, use = product.name, rng.choice(product.techniques), rng.choice(product.uses)
    effect, other_effect = rng.sample(product.effects, 2)
    problem = rng.choice(product.problems)
    patterns = UTILITY_TITLES if patent_type == "utility_model" else (
        MATERIAL_TITLES if product.material else BUILT_TITLES)
    if obj.endswith(("方法", "工艺")):  # already a process: no "...方法的...方法"
        patterns = tuple(p for p in patterns if not p.endswith("方法")) or ("一种{obj}",)
    title = rng.choice(patterns).format(obj=obj, tech=tech, use=use)
    kind = "本发明" if patent_type == "invention" else "本实用新型"
    parts = list(product.parts)
    listed = "、".join(parts[:-1]) + "和" + parts[-1]
    abstract = (
        f"{kind}公开了{title}，属于{theme.field}技术领域。现有{obj}存在{problem}的问题。"
        f"{kind}的{obj}包括{listed}，采用{tech}，{effect}，{other_effect}，适用于{use}。"
    )
    claims = (
        f"1. 一种{obj}，其特征在于：包括{listed}，所述{parts[1]}与所述{parts[0]}相连，所述{parts[-1]}采用{tech}形成。"
        f"2. 根据权利要求1所述的{obj}，其特征在于：所述{parts[0]}适用于{use}。"
    )
    # The product's main code first, then one more of its own: never another product's.
    codes = list(dict.fromkeys([product.ipc[0], rng.choice(product.ipc)]))
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
        "claims": claims,
        "ipc_codes": codes,
        "patent_type": patent_type,
        "legal_status": legal_status,
        "filing_date": filing,
        "grant_date": grant_date,
        "inventors": [_name(rng) for _ in range(rng.randint(1, 4))],
        "field": None,
        "_theme": theme.field,
        "_product": product.name,
    }


def generate_patents(count: int, seed: int = 2026, start: int = 0) -> Iterator[dict]:
    for index in range(start, start + count):
        yield generate_patent(index, seed)
