"""Recipient resolution: role, region containment by code prefix, department and contact cadre."""

from __future__ import annotations

import pytest

from fangpin_notify.domain.kinds import ChannelKind, EventKind, Role
from fangpin_notify.domain.subscriptions import (
    Endpoint,
    InvalidSubscription,
    Subscription,
    regions_overlap,
    resolve_recipients,
)

COUNTY = "652827"
TOWN = "652827101"
OTHER_TOWN = "652827102"
VILLAGE = "652827101001"
NEIGHBOUR = "652827101002"
FAR_VILLAGE = "652827102001"

SUBSCRIPTIONS = [
    Subscription("cadre-v1", Role.VILLAGE_CADRE, VILLAGE),
    Subscription("cadre-v2", Role.VILLAGE_CADRE, NEIGHBOUR),
    Subscription("cadre-far", Role.VILLAGE_CADRE, FAR_VILLAGE),
    Subscription("reviewer-t1", Role.TOWN_REVIEWER, TOWN),
    Subscription("reviewer-t2", Role.TOWN_REVIEWER, OTHER_TOWN),
    Subscription("bureau", Role.COUNTY_BUREAU, COUNTY),
    Subscription("bureau-elsewhere", Role.COUNTY_BUREAU, "652826"),
    Subscription("dept:medical_insurance", Role.DEPT_DUTY, COUNTY, dept="medical_insurance"),
    Subscription("dept:agriculture", Role.DEPT_DUTY, COUNTY, dept="agriculture"),
    Subscription("contact-1", Role.CONTACT_CADRE, COUNTY),
    Subscription("contact-2", Role.CONTACT_CADRE, COUNTY),
]


def ids(kind: EventKind, region: str, dept: str | None = None, contacts: tuple[str, ...] = ()):
    return [r.recipient_id for r in resolve_recipients(kind, region, dept, contacts, SUBSCRIPTIONS)]


def test_region_codes_overlap_when_one_is_a_prefix_of_the_other() -> None:
    assert regions_overlap(COUNTY, VILLAGE)
    assert regions_overlap(VILLAGE, TOWN)
    assert not regions_overlap(VILLAGE, NEIGHBOUR)
    assert not regions_overlap(TOWN, FAR_VILLAGE)


def test_clue_reaches_the_village_cadres_of_that_village_and_the_contact_cadre() -> None:
    got = ids(EventKind.CLUE_VERIFICATION_DUE, VILLAGE, contacts=("contact-2",))
    assert got == ["cadre-v1", "contact-2"]


def test_signature_awaited_reaches_the_town_of_the_village_but_not_another_town() -> None:
    got = ids(EventKind.SIGNATURE_AWAITED, VILLAGE)
    assert "reviewer-t1" in got
    assert "reviewer-t2" not in got


def test_case_overdue_reaches_town_reviewer_and_county_bureau_of_that_county_only() -> None:
    assert ids(EventKind.CASE_OVERDUE, FAR_VILLAGE) == ["bureau", "reviewer-t2"]


def test_measure_dispatched_reaches_only_the_lead_department_and_the_contact_cadre() -> None:
    got = ids(EventKind.MEASURE_DISPATCHED, VILLAGE, "medical_insurance", ("contact-1",))
    assert got == ["contact-1", "dept:medical_insurance"]


def test_contact_cadre_hears_only_about_their_own_households() -> None:
    assert ids(EventKind.VISIT_DUE, VILLAGE, contacts=("contact-1",)) == ["contact-1"]
    assert ids(EventKind.VISIT_DUE, VILLAGE) == []


def test_county_wide_task_reaches_every_village_cadre_of_the_county() -> None:
    got = ids(EventKind.INCOME_COLLECTION_DUE, COUNTY)
    assert got == ["cadre-far", "cadre-v1", "cadre-v2"]


def test_alert_without_department_reaches_every_department_duty_contact() -> None:
    got = ids(EventKind.SCALE_RISK_ALERT, VILLAGE)
    assert got == ["bureau", "dept:agriculture", "dept:medical_insurance", "reviewer-t1"]


def test_explicit_event_kinds_replace_the_role_defaults() -> None:
    subs = [
        Subscription(
            "watcher", Role.VILLAGE_CADRE, VILLAGE, event_kinds=frozenset({"case_overdue"})
        ),
    ]
    assert [
        r.recipient_id for r in resolve_recipients("case_overdue", VILLAGE, None, (), subs)
    ] == ["watcher"]
    assert resolve_recipients("clue_verification_due", VILLAGE, None, (), subs) == []


def test_target_roles_narrow_to_the_roles_the_event_addresses() -> None:
    got = resolve_recipients(
        EventKind.SIGNATURE_AWAITED,
        VILLAGE,
        None,
        (),
        SUBSCRIPTIONS,
        target_roles={Role.TOWN_REVIEWER},
    )
    assert [r.recipient_id for r in got] == ["reviewer-t1"]


def test_escalation_reaches_the_target_role_even_outside_its_default_kinds() -> None:
    # A town reviewer does not hear of every clue, but a missed verification escalates to them.
    assert "reviewer-t1" not in ids(EventKind.CLUE_VERIFICATION_DUE, VILLAGE)
    got = resolve_recipients(
        EventKind.CLUE_VERIFICATION_DUE,
        VILLAGE,
        None,
        (),
        SUBSCRIPTIONS,
        target_roles={Role.TOWN_REVIEWER},
        escalation=True,
    )
    assert [r.recipient_id for r in got] == ["reviewer-t1"]


def test_escalation_respects_a_subscription_listing_its_kinds() -> None:
    subs = [
        Subscription(
            "picky", Role.TOWN_REVIEWER, TOWN, event_kinds=frozenset({"signature_awaited"})
        ),
    ]
    got = resolve_recipients(
        EventKind.CASE_OVERDUE,
        VILLAGE,
        None,
        (),
        subs,
        target_roles={Role.TOWN_REVIEWER},
        escalation=True,
    )
    assert got == []


def test_escalation_must_name_its_roles() -> None:
    with pytest.raises(ValueError, match="target_roles"):
        resolve_recipients(
            EventKind.CASE_OVERDUE, VILLAGE, None, (), SUBSCRIPTIONS, escalation=True
        )


def test_one_person_with_several_subscriptions_is_one_recipient_with_every_endpoint() -> None:
    subs = [
        Subscription("li", Role.VILLAGE_CADRE, VILLAGE, Endpoint(ChannelKind.SMS, "13812345678")),
        Subscription("li", Role.VILLAGE_CADRE, VILLAGE, Endpoint(ChannelKind.EMAIL, "li@cun.cn")),
        Subscription("li", Role.CONTACT_CADRE, COUNTY, Endpoint(ChannelKind.EMAIL, "li@cun.cn")),
    ]
    (recipient,) = resolve_recipients(EventKind.VISIT_DUE, VILLAGE, None, ("li",), subs)
    assert recipient.roles == {Role.CONTACT_CADRE}
    (recipient,) = resolve_recipients(EventKind.CLUE_VERIFICATION_DUE, VILLAGE, None, ("li",), subs)
    assert recipient.roles == {Role.VILLAGE_CADRE, Role.CONTACT_CADRE}
    assert [e.channel for e in recipient.endpoints] == [ChannelKind.EMAIL, ChannelKind.SMS]


def test_inactive_subscription_is_ignored() -> None:
    subs = [Subscription("gone", Role.VILLAGE_CADRE, VILLAGE, active=False)]
    assert resolve_recipients(EventKind.CLUE_VERIFICATION_DUE, VILLAGE, None, (), subs) == []


def test_log_is_the_default_endpoint() -> None:
    assert Subscription("x", Role.COUNTY_BUREAU, COUNTY).endpoint == Endpoint(ChannelKind.LOG)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": Role.VILLAGE_CADRE, "region": COUNTY}, "12"),
        ({"role": Role.TOWN_REVIEWER, "region": VILLAGE}, "9"),
        ({"role": Role.COUNTY_BUREAU, "region": "65282"}, "6, 9 or 12"),
        ({"role": Role.DEPT_DUTY, "region": COUNTY}, "dept"),
        ({"role": Role.DEPT_DUTY, "region": COUNTY, "dept": "police"}, "dept"),
        ({"role": Role.COUNTY_BUREAU, "region": COUNTY, "dept": "health"}, "dept"),
    ],
)
def test_subscription_rejects_a_region_or_dept_that_does_not_fit_the_role(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidSubscription, match=message):
        Subscription("x", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("channel", "address"),
    [
        (ChannelKind.EMAIL, "not-an-address"),
        (ChannelKind.SMS, "call me"),
        (ChannelKind.WEBHOOK, "ftp://example.org/hook"),
    ],
)
def test_endpoint_rejects_an_address_unfit_for_its_channel(
    channel: ChannelKind, address: str
) -> None:
    with pytest.raises(InvalidSubscription, match="address"):
        Endpoint(channel, address)


def test_endpoint_and_subscription_repr_never_show_the_phone() -> None:
    sub = Subscription("x", Role.CONTACT_CADRE, VILLAGE, Endpoint(ChannelKind.SMS, "13812345678"))
    assert "13812345678" not in repr(sub)


def test_resolution_rejects_an_event_region_that_is_not_a_code() -> None:
    with pytest.raises(InvalidSubscription, match="region"):
        resolve_recipients(EventKind.VISIT_DUE, "Hejing", None, (), SUBSCRIPTIONS)
