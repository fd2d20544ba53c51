"""Masking of personal data (ID number, phone, bank account, name) for logs, notices and exports."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

MASK: Final = "*"

# Compound surnames (复姓) keep both characters; everything else keeps the first character.
_COMPOUND_SURNAMES: Final = frozenset(
    {
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "令狐",
        "澹台",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "轩辕",
    }
)

# Free text: one alternation so each span is masked once, by the most specific reading.
# Boundaries are "no letter or digit" so codes like household ids or UUIDs are left alone.
_EDGE_BEFORE: Final = r"(?<![0-9A-Za-z+])"
_EDGE_AFTER: Final = r"(?![0-9A-Za-z])"
_TEXT_PATTERN: Final = re.compile(
    _EDGE_BEFORE
    + r"(?:"
    + r"(?P<id>[0-9]{17}[0-9Xx])"
    + r"|(?P<bank>[0-9]{4}(?: [0-9]{4}){3}(?: [0-9]{1,3})?|[0-9]{16,19})"
    + r"|(?P<phone>(?:\+?86[- ]?)?1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4})"
    + r")"
    + _EDGE_AFTER
)


def _digits_and_letters(value: str) -> str:
    """Drop separators; keep mask characters so masking an already masked value is a no-op."""
    return "".join(ch for ch in value if ch.isalnum() or ch == MASK)


def mask_id_number(value: str) -> str:
    """身份证号: keep the first 6 (region) and the last 4 characters, mask the birth date part.

    `mask_id_number("652827198001113756") == "652827********3756"`. Values too short to be an
    ID number are masked entirely.
    """
    raw = _digits_and_letters(value)
    if len(raw) < 11:
        return MASK * len(raw)
    return raw[:6] + MASK * (len(raw) - 10) + raw[-4:]


def mask_phone(value: str) -> str:
    """手机号/电话: mask the four digits before the last four.

    `mask_phone("13812345678") == "138****5678"`; `+86` prefixes and landlines keep their
    leading part. Values with fewer than 8 digits are masked entirely.
    """
    raw = value.strip()
    plus = raw.startswith("+")
    digits = "".join(ch for ch in raw if ch.isdigit() or ch == MASK)
    if len(digits) < 8:
        return MASK * len(digits)
    masked = digits[:-8] + MASK * 4 + digits[-4:]
    return ("+" if plus else "") + masked


def mask_bank_account(value: str) -> str:
    """银行账号: keep the first 4 (issuer) and last 4 digits when long enough, else the last 4."""
    raw = _digits_and_letters(value)
    if len(raw) >= 12:
        return raw[:4] + MASK * (len(raw) - 8) + raw[-4:]
    if len(raw) > 4:
        return MASK * (len(raw) - 4) + raw[-4:]
    return MASK * len(raw)


def mask_name(value: str) -> str:
    """姓名 for public notices: keep the surname, mask the given name (`张三丰` -> `张**`).

    Separators of transliterated names (`·`, spaces) are kept so the shape stays readable.
    """
    name = value.strip()
    if len(name) <= 1:
        return MASK * len(name)
    keep = 2 if name[:2] in _COMPOUND_SURNAMES and len(name) > 2 else 1
    rest = "".join(ch if ch in "·• " else MASK for ch in name[keep:])
    return name[:keep] + rest


def mask_text(text: str) -> str:
    """Mask ID-number-, bank-account- and mobile-looking substrings of free text."""

    def replace(match: re.Match[str]) -> str:
        if match.group("id"):
            return mask_id_number(match.group("id"))
        if match.group("bank"):
            return mask_bank_account(match.group("bank"))
        return mask_phone(match.group("phone"))

    return _TEXT_PATTERN.sub(replace, text)


def _normalized_key(key: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key)
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def _masker_for_key(key: object) -> Callable[[str], str] | None:
    if not isinstance(key, str):
        return None
    k = _normalized_key(key)
    if "id_number" in k or "id_card" in k or "idcard" in k or k in {"id_no", "sfzh"}:
        return mask_id_number
    if "bank" in k and ("account" in k or "card" in k):
        return mask_bank_account
    if "phone" in k or "mobile" in k or k in {"tel", "telephone"} or k.endswith("_tel"):
        return mask_phone
    return None


def _mask_value_as(value: Any, masker: Callable[[str], str]) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str | int):
        return masker(str(value))
    if isinstance(value, list | tuple | set | frozenset):
        masked = [_mask_value_as(item, masker) for item in value]
        return masked if isinstance(value, list) else tuple(masked)
    return mask_sensitive(value)


def mask_sensitive(obj: Any) -> Any:
    """Return a copy of `obj` safe to log or render.

    Walks dicts, lists and tuples: values under keys named like `id_number`, `phone`/`mobile`
    or `bank_account` are masked by kind, and every string has its ID-number-, bank-account-
    and mobile-looking substrings masked. Other objects are returned unchanged.
    """
    if isinstance(obj, str):
        return mask_text(obj)
    if isinstance(obj, Mapping):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            masker = _masker_for_key(key)
            out[key] = _mask_value_as(value, masker) if masker else mask_sensitive(value)
        return out
    if isinstance(obj, list):
        return [mask_sensitive(item) for item in obj]
    if type(obj) is tuple:
        return tuple(mask_sensitive(item) for item in obj)
    return obj
