"""Texts of the lot, road section, berth monitor, berth, sensor, detection and parking lock
pages (中文, English), registered at import."""

from __future__ import annotations

from cloud import i18n

P = "parking.places."

TEXTS: dict[str, tuple[str, str]] = {
    # menu and titles
    f"{P}lots.title": ("停车场管理", "Parking lots"),
    f"{P}sections.title": ("路段管理", "Road sections"),
    f"{P}occupancy.title": ("泊位监控", "Berth monitor"),
    f"{P}berths.title": ("泊位管理", "Berths"),
    f"{P}sensors.title": ("地磁检测器", "Geomagnetic sensors"),
    f"{P}detections.title": ("地磁检测记录", "Sensor detections"),
    f"{P}false_alarms.title": ("地磁误报", "Sensor false alarms"),
    f"{P}locks.title": ("车位锁", "Parking locks"),
    # fields
    f"{P}field.name": ("名称", "Name"),
    f"{P}field.site_code": ("场所编号", "Site code"),
    f"{P}field.kind": ("类型", "Kind"),
    f"{P}field.region": ("区域", "Region"),
    f"{P}field.street": ("街道", "Street"),
    f"{P}field.address": ("地址", "Address"),
    f"{P}field.capacity": ("车位总数", "Capacity"),
    f"{P}field.tariff": ("收费规则", "Tariff"),
    f"{P}field.refuse_arrears_above_yuan": (
        "欠费超过 (元) 拒绝入场",
        "Refuse entry above arrears of (yuan)",
    ),
    f"{P}field.arrears_confirm_above_yuan": (
        "补缴二次确认金额 (元)",
        "Confirm arrears collection above (yuan)",
    ),
    f"{P}field.hotline": ("服务热线", "Hotline"),
    f"{P}field.place": ("停车场/路段", "Lot / section"),
    f"{P}field.total": ("总泊位数", "Total"),
    f"{P}field.occupied": ("在停泊位数", "Occupied"),
    f"{P}field.free": ("空闲泊位数", "Free"),
    f"{P}field.fault": ("故障泊位数", "Faulty"),
    f"{P}field.berth_code": ("泊位编码", "Berth code"),
    f"{P}field.berth": ("泊位", "Berth"),
    f"{P}field.number": ("泊位号", "Number"),
    f"{P}field.count": ("批量数量", "How many"),
    f"{P}field.status": ("泊位状态", "Status"),
    f"{P}field.plate": ("车牌号", "Plate"),
    f"{P}field.entered_at": ("入场时间", "Arrived at"),
    f"{P}field.sensor": ("地磁编号", "Sensor serial"),
    f"{P}field.has_lock": ("车位锁", "Parking lock"),
    f"{P}field.serial": ("地磁编号", "Sensor serial"),
    f"{P}field.battery": ("电量 (%)", "Battery (%)"),
    f"{P}field.battery_below": ("电量低于 (%)", "Battery below (%)"),
    f"{P}field.temperature": ("温度 (°C)", "Temperature (°C)"),
    f"{P}field.last_heartbeat_at": ("最后心跳", "Last heartbeat"),
    f"{P}field.online": ("在线状态", "Online"),
    f"{P}field.detections": ("检测次数", "Detections"),
    f"{P}field.false_alarms": ("误报次数", "False alarms"),
    f"{P}field.occurred_at": ("检测时间", "Detected at"),
    f"{P}field.detection_kind": ("出入类型", "Arrival or departure"),
    f"{P}field.source": ("来源", "Source"),
    f"{P}field.session": ("泊位会话", "Berth session"),
    f"{P}field.false_alarm": ("误报", "False alarm"),
    f"{P}field.false_alarm_reason": ("误报原因", "Reason"),
    f"{P}field.reported_by": ("上报收费员", "Reported by"),
    f"{P}field.lock_state": ("锁状态", "Lock state"),
    f"{P}field.fault_text": ("故障信息", "Fault"),
    f"{P}field.faulty": ("有故障", "Faulty"),
    f"{P}field.reported_at": ("上报时间", "Reported at"),
    # help
    f"{P}help.site_code": (
        "小写字母、数字、- 或 _；留空自动生成；填写已有的同类型场所编号则使用该场所",
        "Lower-case letters, digits, - and _; empty makes one up; an existing site of the "
        "same kind is used",
    ),
    f"{P}help.capacity": ("诱导屏显示的总车位数", "The total the guidance screen shows"),
    f"{P}help.section_capacity": (
        "可不填：路段按泊位数统计",
        "Optional: a section counts its berths",
    ),
    f"{P}help.tariff": ("留空表示不收费", "Empty: parking here is free"),
    f"{P}help.refuse_arrears": (
        "未缴欠费超过此金额的车辆拒绝入场；留空表示从不拒绝",
        "Vehicles owing more than this are refused entry; empty: never",
    ),
    f"{P}help.arrears_confirm": (
        "收费员补缴超过此金额时需二次确认，默认 200 元",
        "A collector confirms twice above this; 200 yuan unless set",
    ),
    f"{P}help.code": ("租户内唯一，例如 W-001", "Unique in the tenant, e.g. W-001"),
    f"{P}help.count": (
        "大于 1 时按编码末尾数字连续创建，例如 W-001 起 20 个：W-001 … W-020",
        "Above 1 makes a range counting up the code's number: W-001 … W-020",
    ),
    f"{P}help.number": ("路面喷涂的泊位号；留空同编码", "As painted; empty: the code"),
    f"{P}help.sensor": (
        "一个地磁只能绑定一个泊位；填写后自动登记该地磁",
        "A sensor serves one berth; it is registered when set",
    ),
    # values
    f"{P}status.free": ("空闲", "Free"),
    f"{P}status.occupied": ("在停", "Occupied"),
    f"{P}status.fault": ("故障", "Fault"),
    f"{P}lock_state.raised": ("已升起", "Raised"),
    f"{P}lock_state.lowered": ("已降下", "Lowered"),
    f"{P}lock_state.moving": ("动作中", "Moving"),
    f"{P}lock_state.fault": ("故障", "Fault"),
    f"{P}lock_state.unknown": ("未知", "Unknown"),
    f"{P}link.online": ("在线", "Online"),
    f"{P}link.offline": ("离线", "Offline"),
    f"{P}kind.arrived": ("入场", "Arrived"),
    f"{P}kind.departed": ("出场", "Departed"),
    f"{P}source.sensor": ("地磁", "Sensor"),
    f"{P}source.collector": ("收费员", "Collector"),
    f"{P}source.report": ("误报上报", "False-alarm report"),
    f"{P}yuan": ("{yuan} 元", "{yuan} yuan"),
    f"{P}no_tariff": ("不收费", "Free"),
    f"{P}never_refuse": ("从不拒绝", "Never"),
    # filters
    f"{P}filter.name": ("名称包含", "Name contains"),
    f"{P}filter.plate": ("车牌包含", "Plate contains"),
    f"{P}filter.number": ("泊位号或编码开头", "Number or code starts with"),
    f"{P}filter.prefix": ("开头匹配", "Starts with"),
    # detail pages
    f"{P}detail.berths": ("泊位", "Berths"),
    f"{P}detail.lanes": ("车道", "Lanes"),
    f"{P}detail.gates": ("出入口", "Gates"),
    f"{P}detail.sensors": ("地磁检测器", "Sensors"),
    f"{P}detail.locks": ("车位锁", "Locks"),
    f"{P}detail.back": ("返回列表", "Back to the list"),
    f"{P}detail.more": (
        "仅显示前 {n} 个泊位，全部请见泊位管理",
        "Only the first {n} berths are shown; the berth list has them all",
    ),
    f"{P}detail.no_berths": ("尚无泊位", "No berths yet"),
    f"{P}detail.add_berths": ("新增泊位", "Add berths"),
    # actions and messages
    f"{P}action.detail": ("详情", "Detail"),
    f"{P}action.raise": ("升锁", "Raise"),
    f"{P}action.lower": ("降锁", "Lower"),
    f"{P}confirm.lock": (
        "确定对泊位 {berth} 的车位锁执行「{action}」？指令经边缘下发，结果见设备指令列表。",
        "{action} the lock of berth {berth}? The command goes through the edge; its result "
        "shows in the command list.",
    ),
    f"{P}flash.command_sent": ("指令已下发", "Command sent"),
    # errors
    f"{P}error.site_code": (
        "场所编号只能使用小写字母、数字、- 和 _",
        "A site code uses lower-case letters, digits, - and _",
    ),
    f"{P}error.site_kind": (
        "该编号的场所不是此类型",
        "The site of this code is of another kind",
    ),
    f"{P}error.yuan": (
        "请输入金额 (元)，最多两位小数，例如 200 或 12.50",
        "An amount in yuan with at most two decimals, e.g. 200 or 12.50",
    ),
    f"{P}error.tariff_disabled": ("该收费规则已停用", "This tariff is disabled"),
    f"{P}error.site_disabled": ("该停车场/路段已停用", "This lot or section is disabled"),
    f"{P}error.code_taken": ("泊位编码已被使用", "A berth of this code exists"),
    f"{P}error.sensor_taken": (
        "该地磁已绑定其他泊位",
        "This sensor is bound to another berth",
    ),
    f"{P}error.berth_occupied": (
        "泊位上有车辆在停，不能删除",
        "A vehicle is parked in this berth; it cannot be deleted",
    ),
    f"{P}error.range_code": (
        "批量创建时编码须以数字结尾，例如 W-001",
        "A range needs a code ending in digits, e.g. W-001",
    ),
    f"{P}error.range_sensor": (
        "批量创建时不能填写地磁编号",
        "A range of berths takes no sensor serial",
    ),
    f"{P}error.range_number": (
        "批量创建时泊位号按编码自动生成，请留空",
        "A range numbers its berths from the codes; leave it empty",
    ),
}

i18n.register(TEXTS)
