"""Texts of the identity, registrant and import pages (中文, English), registered at import."""

from __future__ import annotations

from cloud import i18n

TEXTS: dict[str, tuple[str, str]] = {
    # identity kinds and registration status
    "registrants.kind.student": ("学生", "Student"),
    "registrants.kind.teacher": ("教师", "Teacher"),
    "registrants.kind.staff": ("第三方服务人员", "Third-party staff"),
    "registrants.kind.resident": ("居民", "Resident"),
    "registrants.kind_closed_mark": ("（未开通）", " (closed)"),
    "registrants.registered.True": ("已注册", "Registered"),
    "registrants.registered.False": ("未注册", "Not registered"),
    # registrant fields
    "registrants.field.kind": ("备案人身份", "Identity"),
    "registrants.field.name": ("姓名", "Name"),
    "registrants.field.number": ("学号/工号", "Student/staff no."),
    "registrants.field.id_card_tail": ("身份证后六位", "ID card (last 6)"),
    "registrants.field.unit": ("单位/被分管部门", "Unit / supervised dept."),
    "registrants.field.motor_count": ("机动车数量", "Motor vehicles"),
    "registrants.field.ebike_count": ("电动自行车数量", "E-bikes"),
    "registrants.field.identity_type": ("身份类型", "Identity type"),
    "registrants.field.visitor_authorised": ("访客授权", "Receives visitors"),
    "registrants.field.registered": ("注册状态", "Registration"),
    "registrants.field.operator": ("操作人", "Operator"),
    "registrants.field.rules": ("出入规则", "Access rules"),
    "registrants.field.campus": ("校区", "Campus"),
    "registrants.field.gates": ("校门", "Gates"),
    # registrant pages
    "registrants.title": ("备案人管理", "Registrants"),
    "registrants.search_hint": ("姓名、手机号或学号/工号", "name, phone or number"),
    "registrants.type_help": ("须属于所选备案人身份", "Must belong to the chosen identity"),
    "registrants.number_help": (
        "同一身份下不能重复",
        "Unique among registrants of the same identity",
    ),
    "registrants.id_card_help": ("5 位数字加 1 位数字或 X", "five digits and a digit or X"),
    "registrants.phone_help": ("11 位手机号码", "11-digit mobile number"),
    "registrants.import": ("导入", "Import"),
    "registrants.template": ("下载导入模板", "Download template"),
    "registrants.import_results": ("导入结果", "Import results"),
    "registrants.rules_title": ("出入规则", "Access rules"),
    "registrants.rules_intro": (
        "没有任何规则时，该备案人不能通过任何校门。每条规则允许在所选星期、时段通过一个校区的所选校门（不选校门表示该校区全部校门）；结束时刻早于开始时刻表示跨过午夜。",
        "With no rule the registrant passes no gate. Each rule lets them through the chosen gates of one campus (none chosen: every gate of it) on the chosen weekdays between the start and end time; an end before the start runs past midnight.",
    ),
    "registrants.no_rules": (
        "暂无出入规则：全部校区的全部校门均不允许出入",
        "No access rules: no gate of any campus lets this registrant through",
    ),
    "registrants.all_gates": ("全部校门", "Every gate"),
    "registrants.add_rule": ("添加规则", "Add rule"),
    "registrants.remove_rule": ("删除", "Remove"),
    "registrants.gates_help": (
        "只能选所选校区的校门；不选表示该校区全部校门",
        "Only gates of the chosen campus; none chosen means all of them",
    ),
    "registrants.back": ("返回备案人列表", "Back to the registrants"),
    "registrants.bulk_title": ("出入规则批量设置", "Access rules in bulk"),
    "registrants.bulk_intro": (
        "按下列条件查询备案人，再对查询到的全部备案人统一设置出入规则。",
        "Find registrants by these conditions, then set one access rule for all of them.",
    ),
    "registrants.bulk_matching": ("符合条件的备案人：{n} 名", "Matching registrants: {n}"),
    "registrants.bulk_done": (
        "已为 {n} 名备案人设置出入规则",
        "Access rules set for {n} registrants",
    ),
    "registrants.bulk_mode": ("设置方式", "How"),
    "registrants.bulk_mode.replace": (
        "替换：删除原有规则，只保留这条",
        "Replace: their rules become this one",
    ),
    "registrants.bulk_mode.add": (
        "追加：保留原有规则，再加这条",
        "Add: keep their rules, add this",
    ),
    "registrants.bulk_mode.clear": (
        "清空：全部校门不允许出入",
        "Clear: no gate lets them through",
    ),
    "registrants.bulk_apply": ("应用到全部 {n} 名备案人", "Apply to all {n} registrants"),
    "registrants.bulk_refresh": ("更新条件", "Update conditions"),
    "registrants.bulk": ("出入规则批量设置", "Rules in bulk"),
    "registrants.authorise_teachers": ("全部教师访客授权", "Authorise all teachers"),
    # registrant errors
    "registrants.error.phone": ("须为 11 位手机号码", "Must be an 11-digit mobile number"),
    "registrants.error.id_card_tail": (
        "须为 6 位：5 位数字加 1 位数字或 X",
        "Must be 6 characters: five digits and a digit or X",
    ),
    "registrants.error.empty_window": (
        "结束时刻不能与开始时刻相同",
        "The end time cannot equal the start time",
    ),
    "registrants.error.kind_closed": (
        "学校未开通该备案人身份",
        "The school has not opened this identity",
    ),
    "registrants.error.type_other_kind": (
        "身份类型不属于所选备案人身份",
        "The identity type belongs to another identity",
    ),
    "registrants.error.number_taken": (
        "该身份下已有相同学号/工号的备案人",
        "A registrant of this identity already has this number",
    ),
    "registrants.error.teachers_only": (
        "访客授权仅对身份为教师的备案人开放",
        "Only teachers can be authorised to receive visitors",
    ),
    "registrants.error.not_campus": ("请选择本校的校区", "Choose a campus of this school"),
    "registrants.error.gate_other_campus": (
        "所选校门不属于该校区",
        "A chosen gate is not at this campus",
    ),
    "registrants.error.too_many_rules": (
        "出入规则过多（最多 50 条）",
        "Too many access rules (at most 50)",
    ),
    # registrant flashes and actions
    "registrants.flash.teachers_authorised": (
        "已为全部教师开通访客授权",
        "Every teacher may now receive visitors",
    ),
    "registrants.flash.none_to_authorise": (
        "所有教师均已开通访客授权",
        "Every teacher was already authorised",
    ),
    "registrants.flash.unbound": ("已解绑微信", "WeChat unbound"),
    "registrants.flash.authorised": ("已开通访客授权", "Visitor authorisation granted"),
    "registrants.flash.unauthorised": ("已取消访客授权", "Visitor authorisation withdrawn"),
    "action.registrant_unbind": ("解绑微信", "Unbind WeChat"),
    "action.visitor_authorise": ("访客授权", "Authorise visitors"),
    "action.visitor_unauthorise": ("取消授权", "Withdraw authorisation"),
    "action.authorise_teachers": ("全部教师访客授权", "Authorise all teachers"),
    "confirm.registrant_unbind": (
        "确定解绑「{label}」的微信吗？其手机将退出登录，需重新登录绑定。",
        "Unbind the WeChat of “{label}”? Their phone is signed out and must sign in again.",
    ),
    "confirm.visitor_authorise": (
        "确定为「{label}」开通访客授权吗？访客将可以在微信端预约访问该教师。",
        "Let “{label}” receive visitors? Visitors can then book visits to this teacher.",
    ),
    "confirm.visitor_unauthorise": (
        "确定取消「{label}」的访客授权吗？",
        "Withdraw the visitor authorisation of “{label}”?",
    ),
    "confirm.authorise_teachers": (
        "确定为全部教师统一开通访客授权吗？当前有 {label} 名教师尚未开通。",
        "Authorise every teacher to receive visitors? {label} teachers are not yet authorised.",
    ),
    "confirm.yes.registrant_unbind": ("确定解绑", "Unbind"),
    "confirm.yes.visitor_authorise": ("确定授权", "Authorise"),
    "confirm.yes.visitor_unauthorise": ("确定取消", "Withdraw"),
    "confirm.yes.authorise_teachers": ("全部授权", "Authorise all"),
    # identity settings and types
    "identities.settings_title": ("身份开通设置", "Identity settings"),
    "identities.settings_intro": (
        "学校可开通或关闭备案人身份，并设置各身份是否必须上传本人人脸照片。教师身份必须开通；教师的人脸要求按教师身份类型分别设置。",
        "Open or close registrant identities and say whether each must upload a face photo. The teacher identity is always open; teachers' face requirement is set per teacher identity type.",
    ),
    "identities.kind": ("备案人身份", "Identity"),
    "identities.enabled": ("开通", "Open"),
    "identities.face_required": ("必须上传人脸", "Face photo required"),
    "identities.teacher_face": ("按教师身份类型设置", "Set per teacher identity type"),
    "identities.teacher_always": ("必须开通", "Always open"),
    "identities.types_title": ("身份类型管理", "Identity types"),
    "identities.type_name": ("身份类型名称", "Identity type"),
    "identities.description": ("描述", "Description"),
    "identities.face_help": (
        "该身份类型的备案人是否必须上传本人人脸照片（教师身份类型适用）",
        "Whether registrants of this type must upload a face photo (for teacher types)",
    ),
    "identities.error.teacher_required": (
        "教师身份必须开通，不允许关闭",
        "The teacher identity must stay open; it cannot be closed",
    ),
    "identities.error.type_kind_in_use": (
        "已有备案人使用该身份类型，不能改到其他身份",
        "Registrants use this type; it cannot move to another identity",
    ),
    # imports
    "imports.title": ("导入结果", "Import results"),
    "imports.new_title": ("Excel 导入", "Excel import"),
    "imports.kind.registrants": ("备案人", "Registrants"),
    "imports.kind.vehicles": ("车辆备案", "Vehicles"),
    "imports.state.done": ("已完成", "Done"),
    "imports.state.failed": ("失败", "Failed"),
    "imports.field.filename": ("导入文件", "File"),
    "imports.field.kind": ("导入类型", "Kind"),
    "imports.field.created_at": ("导入时间", "Imported at"),
    "imports.field.state": ("导入状态", "State"),
    "imports.field.total": ("总行数", "Rows"),
    "imports.field.imported": ("成功", "Imported"),
    "imports.field.rejected": ("失败", "Rejected"),
    "imports.field.error": ("说明", "Note"),
    "imports.field.file": ("Excel 文件 (.xlsx)", "Excel file (.xlsx)"),
    "imports.result": ("导入结果", "Result"),
    "imports.result_text": (
        "共 {total} 行，成功 {imported} 行，失败 {rejected} 行",
        "{total} rows: {imported} imported, {rejected} rejected",
    ),
    "imports.download_rejects": ("问题数据下载", "Download rejected rows"),
    "imports.new": ("导入", "Import"),
    "imports.template": ("下载导入模板", "Download template"),
    "imports.intro": (
        "请先下载导入模板，按模板填写后上传。文件须为 .xlsx 格式，不超过 {mb} MB、{rows} 行。能读取的文件中，有效的行全部导入，有问题的行不导入并说明原因，可在导入结果中下载问题数据。",
        "Download the template, fill it in and upload it. The file must be .xlsx, at most {mb} MB and {rows} rows. Valid rows are imported; rows with problems are not, and the reasons can be downloaded from the import results.",
    ),
    "imports.registrants_note": (
        "导入成功的备案人没有出入规则：全部校区的全部校门均不允许出入。",
        "Imported registrants get no access rules: no gate of any campus lets them through.",
    ),
    "imports.submit": ("上传并导入", "Upload and import"),
    "imports.reason": ("{column}：{message}", "{column}: {message}"),
    "imports.reason_row": ("第 {row} 行 ", "Row {row}: "),
    "imports.same_as_row": ("（与第 {row} 行重复）", " (same as row {row})"),
    "imports.flash.done": ("导入完成，全部数据已导入", "Import done: every row was imported"),
    "imports.flash.rejected": (
        "导入完成，部分数据有问题未导入，请下载问题数据查看原因",
        "Import done; some rows were rejected: download them to see why",
    ),
    "imports.flash.failed": (
        "导入失败，未导入任何数据，原因见导入结果",
        "Import failed and nothing was imported; see the import results for why",
    ),
    "imports.error.no_file": ("请选择要上传的 Excel 文件", "Choose the Excel file to upload"),
    "imports.error.empty_file": ("上传的文件是空的", "The uploaded file is empty"),
    "imports.error.too_large": (
        "文件超过 {mb} MB，请分批导入",
        "The file is over {mb} MB; import it in parts",
    ),
    "imports.error.not_xlsx": (
        "文件无法读取：不是有效的 Excel (.xlsx) 文件，请使用下载的导入模板（.xls 请另存为 .xlsx）",
        "The file cannot be read: it is not a valid Excel (.xlsx) file; use the downloaded template (save .xls as .xlsx)",
    ),
    "imports.error.no_header": (
        "文件中没有表头，请使用下载的导入模板",
        "The file has no header row; use the downloaded template",
    ),
    "imports.error.columns": (
        "表头缺少列：{columns}，请使用下载的导入模板",
        "The header lacks the columns {columns}; use the downloaded template",
    ),
    "imports.error.too_many_rows": (
        "数据超过 {rows} 行，请分批导入",
        "More than {rows} rows; import them in parts",
    ),
    "imports.error.no_rows": ("文件中没有数据行", "The file holds no data rows"),
    "imports.error.too_long": ("内容过长", "Too long"),
    "imports.error.kind_label": (
        "须为 学生、教师、第三方服务人员 或 居民",
        "Must be 学生, 教师, 第三方服务人员 or 居民",
    ),
    "imports.error.vehicle_label": ("须为 机动车 或 电动自行车", "Must be 机动车 or 电动自行车"),
    "imports.error.relation_label": (
        "须为 本人、配偶、父母、子女、亲属 或 其他",
        "Must be 本人, 配偶, 父母, 子女, 亲属 or 其他",
    ),
    "imports.error.number_space": ("不能包含空格", "Must not contain spaces"),
    "imports.error.date": ("日期格式须为 2025-12-31", "Dates are written 2025-12-31"),
    "imports.error.date_past": ("有效期已过", "The date has passed"),
    "imports.error.motor_validity": (
        "仅电动自行车可设有效期，机动车请留空",
        "Only e-bikes have a validity; leave it empty for motor vehicles",
    ),
    "imports.error.ebike_plate": (
        "电动自行车号牌须为 1-16 个字符",
        "An e-bike number is 1 to 16 characters",
    ),
    "imports.error.type_unknown": (
        "该备案人身份下没有此身份类型",
        "No such identity type under this identity",
    ),
    "imports.error.department_unknown": ("没有此部门", "No such department"),
    "imports.error.number_repeated": (
        "文件中学号/工号重复",
        "The number appears twice in the file",
    ),
    "imports.error.registrant_unknown": (
        "找不到该身份、该学号/工号的备案人",
        "No registrant of this identity has this number",
    ),
    "imports.error.plate_taken": ("该号牌已备案", "This plate is already registered"),
    "imports.error.plate_repeated": ("文件中号牌重复", "The plate appears twice in the file"),
}

i18n.register(TEXTS)
