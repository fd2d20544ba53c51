"""Masking of ID numbers, phones, bank accounts and names in values, free text and log events."""

from __future__ import annotations

import re

from fangpin_kit.masking import (
    mask_bank_account,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_sensitive,
    mask_text,
)

ID_NUMBER = "652827198001113756"
MOBILE = "13812345678"
BANK = "6222021234567890123"


def test_id_number_keeps_region_and_last_four() -> None:
    assert mask_id_number(ID_NUMBER) == "652827********3756"


def test_id_number_with_x_check_digit_keeps_x() -> None:
    assert mask_id_number("65282719800111375X") == "652827********375X"


def test_too_short_id_number_is_masked_entirely() -> None:
    assert mask_id_number("12345") == "*****"


def test_mobile_keeps_first_three_and_last_four() -> None:
    assert mask_phone(MOBILE) == "138****5678"


def test_mobile_with_country_code_and_separators() -> None:
    assert mask_phone("+86 138-1234-5678") == "+86138****5678"


def test_short_phone_is_masked_entirely() -> None:
    assert mask_phone("12317") == "*****"


def test_bank_account_keeps_issuer_and_last_four() -> None:
    assert mask_bank_account(BANK) == "6222***********0123"
    assert mask_bank_account("6222 0212 3456 7890") == "6222********7890"


def test_short_account_keeps_only_last_four() -> None:
    assert mask_bank_account("123456789") == "*****6789"


def test_name_keeps_surname() -> None:
    assert mask_name("张三丰") == "张**"
    assert mask_name("李四") == "李*"


def test_compound_surname_is_kept_whole() -> None:
    assert mask_name("欧阳娜娜") == "欧阳**"


def test_transliterated_name_keeps_separator() -> None:
    assert mask_name("阿依·买买提") == "阿*·***"


def test_masking_is_idempotent() -> None:
    for masker, value in (
        (mask_id_number, ID_NUMBER),
        (mask_phone, MOBILE),
        (mask_bank_account, BANK),
        (mask_name, "张三丰"),
    ):
        once = masker(value)
        assert masker(once) == once


def test_free_text_masks_id_mobile_and_bank_substrings() -> None:
    text = f"户主身份证{ID_NUMBER}，电话{MOBILE}，卡号{BANK}。"
    assert mask_text(text) == (
        "户主身份证652827********3756，电话138****5678，卡号6222***********0123。"
    )


def test_free_text_leaves_codes_and_dates_alone() -> None:
    text = "village 652827101001 household H13812345678 on 2024-06-30, event 3f2a-138123456789"
    assert mask_text(text) == text


def test_sensitive_keys_are_masked_by_kind_whatever_the_value_looks_like() -> None:
    event = {
        "id_number": ID_NUMBER,
        "contactPhone": 13812345678,
        "mobile": ["13912345678"],
        "bank_account": BANK,
        "household_id": "H0001",
    }
    assert mask_sensitive(event) == {
        "id_number": "652827********3756",
        "contactPhone": "138****5678",
        "mobile": ["139****5678"],
        "bank_account": "6222***********0123",
        "household_id": "H0001",
    }


def test_nested_structures_are_walked_and_input_left_untouched() -> None:
    event = {
        "event": f"registered {ID_NUMBER}",
        "household": {"members": [{"name": "张三", "id_number": ID_NUMBER}]},
        "pair": (MOBILE, 3),
    }
    masked = mask_sensitive(event)
    assert masked == {
        "event": "registered 652827********3756",
        "household": {"members": [{"name": "张三", "id_number": "652827********3756"}]},
        "pair": ("138****5678", 3),
    }
    assert event["household"]["members"][0]["id_number"] == ID_NUMBER


def test_no_full_id_or_mobile_survives_a_log_event() -> None:
    event = {"msg": f"{ID_NUMBER} {MOBILE}", "extra": [{"phone": MOBILE}], "n": 5, "x": None}
    rendered = repr(mask_sensitive(event))
    assert not re.search(r"\d{11}", rendered)
