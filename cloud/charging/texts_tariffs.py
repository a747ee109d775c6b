"""Texts of the tariff pages (计费规则), registered with the one translation function."""

from __future__ import annotations

from cloud import i18n

ENTRIES: dict[str, tuple[str, str]] = {
    "tariffs.title": ("计费规则", "Tariffs"),
    "tariffs.field.station": ("所属电站", "Station"),
    "tariffs.field.area": ("所属区域", "Area"),
    "tariffs.field.name": ("计费名称", "Tariff name"),
    "tariffs.field.mode": ("计费方式", "Pricing"),
    "tariffs.field.prices": ("计费单价（元/度）", "Prices (yuan/kWh)"),
    "tariffs.field.electricity": ("电费单价（元/度）", "Electricity (yuan/kWh)"),
    "tariffs.field.service": ("服务费单价（元/度）", "Service fee (yuan/kWh)"),
    "tariffs.field.prepay": ("预付值（元）", "Prepay options (yuan)"),
    "tariffs.field.effective_from": ("生效时间", "Effective from"),
    "tariffs.field.periods": ("峰平谷时段", "Time-of-use periods"),
    "tariffs.field.period": ("时段", "Period"),
    "tariffs.field.start": ("开始", "Start"),
    "tariffs.field.end": ("结束", "End"),
    "tariffs.field.operator": ("操作人", "Operator"),
    "tariffs.field.created_at": ("创建时间", "Created"),
    "tariffs.field.updated_at": ("修改时间", "Changed"),
    "tariffs.field.energy": ("充电电量（度）", "Energy (kWh)"),
    "tariffs.field.at": ("开始充电时间", "Charging starts at"),
    "tariffs.field.curve": ("电表曲线（每行：时间,Wh）", "Meter curve (lines: time,Wh)"),
    "tariffs.field.curve_file": ("或上传CSV文件", "or upload a CSV file"),
    "tariffs.mode.uniform": ("统一计价", "Uniform"),
    "tariffs.mode.time_of_use": ("峰平谷计价", "Time of use"),
    "tariffs.period.sharp": ("尖", "Sharp"),
    "tariffs.period.peak": ("峰", "Peak"),
    "tariffs.period.flat": ("平", "Flat"),
    "tariffs.period.valley": ("谷", "Valley"),
    "tariffs.component.energy": ("电费", "Electricity"),
    "tariffs.component.service": ("服务费", "Service fee"),
    "tariffs.whole_station": ("全站（未分区域）", "Whole station (no area)"),
    "tariffs.detail": ("详细", "Detail"),
    "tariffs.test": ("计费测试", "Billing test"),
    "tariffs.back": ("返回计费规则列表", "Back to the tariffs"),
    "tariffs.versions": ("版本", "Versions"),
    "tariffs.in_force": ("当前生效", "In force"),
    "tariffs.pending": ("待生效", "Pending"),
    "tariffs.no_version": ("暂无版本", "No version yet"),
    "tariffs.add_row": ("添加时段", "Add a period"),
    "tariffs.help.periods": (
        "时段以30分钟为单位，须完整覆盖24小时（00:00–24:00），不能重叠；结束早于开始表示跨越午夜；空行忽略。",
        "Periods run in 30-minute steps and must cover 24 hours (00:00–24:00) exactly, without "
        "overlap; an end before the start runs past midnight; blank rows are ignored.",
    ),
    "tariffs.help.prepay": (
        "以逗号分隔，最多12个，每个大于0，如：20, 50, 100",
        "Comma separated, at most 12, each above 0, e.g. 20, 50, 100",
    ),
    "tariffs.help.effective": (
        "新建的计费规则当日立即生效；修改后的计费规则于次日00:00生效，跨24点的订单按启动时生效的规则计费。",
        "A new tariff applies at once; a change applies from the next midnight, and a session "
        "that crosses midnight is billed by the tariff in force when it started.",
    ),
    "tariffs.help.curve": (
        "每行一个读数：时间（如 2024-05-01 08:00）和电表读数（Wh），按时间先后排列。",
        "One reading a line: a time (e.g. 2024-05-01 08:00) and the register (Wh), in time order.",
    ),
    "tariffs.test.help": (
        "输入充电电量和开始时间，或粘贴/上传电表曲线，查看分项账单。",
        "Enter an energy figure and a start time, or paste or upload a meter curve, to see the "
        "itemised bill.",
    ),
    "tariffs.test.run": ("计算", "Calculate"),
    "tariffs.bill.lines": ("账单明细", "Itemised bill"),
    "tariffs.bill.item": ("项目", "Item"),
    "tariffs.bill.quantity": ("电量（度）", "Energy (kWh)"),
    "tariffs.bill.unit_price": ("单价（元/度）", "Price (yuan/kWh)"),
    "tariffs.bill.amount": ("金额（元）", "Amount (yuan)"),
    "tariffs.bill.time": ("时间", "Time"),
    "tariffs.bill.energy": ("总电量（度）", "Energy (kWh)"),
    "tariffs.bill.electricity": ("电费合计（元）", "Electricity (yuan)"),
    "tariffs.bill.service": ("服务费合计（元）", "Service fee (yuan)"),
    "tariffs.bill.total": ("总费用（元）", "Total (yuan)"),
    "tariffs.bill.version": ("计费版本生效日期", "Version effective from"),
    "tariffs.bill.rounding": (
        "每行金额 = 电量(Wh) × 单价(分/度) ÷ 1000，四舍五入到分，每行只舍入一次；总费用为各行之和。",
        "Each line = energy (Wh) × price (fen/kWh) ÷ 1000, rounded half up to the fen once per "
        "line; the total is the sum of the lines.",
    ),
    "tariffs.error.station_disabled": (
        "禁用的电站不能添加计费规则",
        "A disabled station cannot take a new tariff",
    ),
    "tariffs.error.area_disabled": (
        "禁用的区域不能添加计费规则",
        "A disabled area cannot take a new tariff",
    ),
    "tariffs.error.area_station": (
        "所选区域不属于所选电站",
        "The area is not part of the chosen station",
    ),
    "tariffs.error.station_fixed": (
        "计费规则的所属电站不能修改",
        "A tariff's station cannot change",
    ),
    "tariffs.error.money": (
        "请输入不超过1000元、最多两位小数的金额",
        "Enter an amount up to 1000 yuan with at most two decimals",
    ),
    "tariffs.error.energy": (
        "请输入0到100000之间、最多三位小数的电量",
        "Enter an energy figure from 0 to 100000 kWh with at most three decimals",
    ),
    "tariffs.error.time": ("请选择时间", "Choose a time"),
    "tariffs.error.prepay_count": (
        "预付值最多12个，每个须大于0",
        "At most 12 prepay options, each above 0",
    ),
    "tariffs.error.no_version": (
        "该时间没有生效的计费规则版本",
        "No version of this tariff was in force then",
    ),
    "tariffs.error.test_input": (
        "请输入电量和开始时间，或电表曲线",
        "Enter an energy figure and a start time, or a meter curve",
    ),
    "tariffs.error.curve_short": (
        "电表曲线至少需要两行读数",
        "A meter curve needs at least two readings",
    ),
    "tariffs.error.curve_long": ("电表曲线最多10000行", "A meter curve has at most 10000 lines"),
}

i18n.register(ENTRIES)
