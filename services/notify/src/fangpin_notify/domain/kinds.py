"""Vocabulary of notify: event kinds, recipient roles and channel kinds."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """What a notification is about; each kind has a zh-CN and an en template."""

    CLUE_VERIFICATION_DUE = "clue_verification_due"  # 风险线索待入户核实
    NOTICE_PERIOD_STARTED = "notice_period_started"  # 公示开始
    NOTICE_PERIOD_ENDED = "notice_period_ended"  # 公示结束
    SIGNATURE_AWAITED = "signature_awaited"  # 待您签字审核
    CASE_OVERDUE = "case_overdue"  # 案件逾期
    MEASURE_DISPATCHED = "measure_dispatched"  # 帮扶措施派发至部门
    MEASURE_OVERDUE = "measure_overdue"  # 帮扶措施逾期
    VISIT_DUE = "visit_due"  # 走访到期
    INCOME_COLLECTION_DUE = "income_collection_due"  # 季度收入采集
    SCALE_RISK_ALERT = "scale_risk_alert"  # 规模性返贫风险预警
    CASE_DECIDED = "case_decided"  # 案件审批结果
    PLAN_CREATED = "plan_created"  # 帮扶计划（一户一策）已生成
    TASK_DUE = "task_due"  # 其他待办事项 (a due task of a kind without its own template)


class Role(StrEnum):
    """Who a recipient is in the procedure; decides what they receive and may see."""

    VILLAGE_CADRE = "village_cadre"  # 村干部
    TOWN_REVIEWER = "town_reviewer"  # 乡镇审核人
    COUNTY_BUREAU = "county_bureau"  # 县乡村振兴局
    DEPT_DUTY = "dept_duty"  # 行业部门值班联系人
    CONTACT_CADRE = "contact_cadre"  # 帮扶联系人


class ChannelKind(StrEnum):
    """How a notice reaches its recipient."""

    LOG = "log"  # outbox/log: visible in `fangpin notify list`
    WEBHOOK = "webhook"
    EMAIL = "email"
    SMS = "sms"


class Phase(StrEnum):
    """Where a reminder stands relative to its deadline."""

    BEFORE = "before"  # 提前提醒
    DUE = "due"  # 当日提醒
    ESCALATION = "escalation"  # 逾期督办
