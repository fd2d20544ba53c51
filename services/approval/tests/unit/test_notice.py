"""Public notice text for a village: only publishable facts, in that village only."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from approval_support import NEIGHBOUR_VILLAGE, VILLAGE, Driver, OpenCase, at

from fangpin_approval.domain.codes import Category, EliminationMode, RiskType
from fangpin_approval.domain.notice import NoticeEntry, render_notice
from fangpin_approval.domain.procedure import FlowKind, Step

D = dt.date


def _identification(name: str = "张三丰", **changes: object) -> NoticeEntry:
    values: dict[str, object] = {
        "case_id": "C1",
        "kind": FlowKind.IDENTIFICATION,
        "village": VILLAGE,
        "head_name": name,
        "members": 4,
        "group": "三组",
        "category": Category.MARGINAL,
        "risk_types": (RiskType.ILLNESS, RiskType.DISABILITY, RiskType.EDUCATION),
    }
    return NoticeEntry(**(values | changes))  # type: ignore[arg-type]


def _render(*entries: NoticeEntry, full_names: bool = False) -> str:
    return render_notice(
        village=VILLAGE,
        village_name="石桥村",
        published_on=D(2024, 2, 9),
        last_day=D(2024, 2, 13),
        entries=list(entries),
        full_names=full_names,
    )


def test_notice_lists_the_household_with_masked_name_category_and_dates() -> None:
    text = _render(_identification())
    assert text.startswith("石桥村防止返贫监测对象公示")
    assert "1\t三组\t张**\t4人\t边缘易致贫户\t因学" in text
    assert "公示时间:2024年2月9日至2024年2月13日(共5天)" in text
    assert "张三丰" not in text
    assert text.endswith("石桥村村民委员会\n2024年2月9日")


def test_notice_never_shows_health_facts() -> None:
    text = _render(_identification())
    assert "因病" not in text and "因残" not in text
    only_health = _identification(risk_types=(RiskType.ILLNESS,))
    assert only_health.public_risks() == "—"


def test_notice_never_carries_an_id_number_phone_or_bank_account() -> None:
    for smuggled in ("张三 510922199001011234", "13812345678", "6222020200112233445"):
        with pytest.raises(ValueError, match="long number"):
            _identification(name=smuggled)
    with pytest.raises(ValueError, match="long number"):
        _identification(group="联系13812345678")
    assert not re.search(r"\d{7,}", _render(_identification()))


def test_full_names_are_shown_only_when_the_county_asks() -> None:
    assert "\t张三丰\t" in _render(_identification(), full_names=True)


def test_eliminations_get_their_own_section_with_the_mode() -> None:
    elimination = NoticeEntry(
        case_id="E1",
        kind=FlowKind.ELIMINATION,
        village=VILLAGE,
        head_name="欧阳娜娜",
        members=3,
        elimination_mode=EliminationMode.ASSISTED,
    )
    text = _render(_identification(), elimination)
    assert "拟标注风险消除" in text
    assert "1\t—\t欧阳**\t3人\t帮扶消除" in text


def test_a_household_of_another_village_is_refused() -> None:
    with pytest.raises(ValueError, match="published in the household's village only"):
        _render(_identification(), _identification(case_id="C2", village=NEIGHBOUR_VILLAGE))


def test_an_empty_or_backwards_notice_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one household"):
        _render()
    with pytest.raises(ValueError, match="before it is published"):
        render_notice(
            village=VILLAGE,
            village_name="石桥村",
            published_on=D(2024, 2, 9),
            last_day=D(2024, 2, 8),
            entries=[_identification()],
        )


def test_notice_entry_is_built_from_a_case_in_its_notice(
    open_case: OpenCase, driver: Driver
) -> None:
    case = open_case()
    driver.to_step(case, Step.VILLAGE_APPRAISAL)
    driver.publish(case, at(2024, 3, 6))
    entry = NoticeEntry.for_case(case, head_name="张三丰", members=4, group="三组")
    assert (entry.village, entry.category) == (VILLAGE, Category.MARGINAL)
    assert case.notice_published_on and case.due.notice_last_day
    text = render_notice(
        village=case.region,
        village_name="石桥村",
        published_on=case.notice_published_on,
        last_day=case.due.notice_last_day,
        entries=[entry],
    )
    assert "2024年3月6日至2024年3月10日(共5天)" in text
