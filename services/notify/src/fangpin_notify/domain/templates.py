"""Message templates per event kind (zh-CN, English fallback) with role-based field visibility."""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum
from importlib import resources
from typing import Any

import yaml

from fangpin_kit.clock import CHINA
from fangpin_kit.masking import mask_bank_account, mask_id_number, mask_name, mask_phone, mask_text
from fangpin_notify.domain.kinds import EventKind, Phase, Role

DIGEST_KIND = "digest"


class TemplateError(ValueError):
    """A template catalog that does not validate, or a context lacking a required field."""


class Visibility(IntEnum):
    """How much of a sensitive field a role may see; a recipient gets the most any role allows."""

    HIDDEN = 0
    MASKED = 1
    FULL = 2


def _withheld(_: str) -> str:
    return ""


@dataclass(frozen=True)
class FieldRule:
    """Visibility of one sensitive context field by role (roles not listed: hidden)."""

    masker: Callable[[str], str]
    by_role: Mapping[Role, Visibility]
    never_full: bool = False

    def __post_init__(self) -> None:
        if self.never_full and Visibility.FULL in self.by_role.values():
            raise TemplateError("a never-full field cannot be visible in full to any role")

    def visibility(self, roles: Collection[Role]) -> Visibility:
        levels = (self.by_role.get(r, Visibility.HIDDEN) for r in roles)
        return max(levels, default=Visibility.HIDDEN)


# ID number, phone and bank account are never shown in full in any notice; health details
# only to the household's own contact cadre (村级公示 never shows any of them: DOMAIN 4).
FIELD_POLICY: Mapping[str, FieldRule] = {
    "household_name": FieldRule(
        mask_name,
        {
            Role.VILLAGE_CADRE: Visibility.FULL,
            Role.CONTACT_CADRE: Visibility.FULL,
            Role.TOWN_REVIEWER: Visibility.FULL,
            Role.COUNTY_BUREAU: Visibility.MASKED,
            Role.DEPT_DUTY: Visibility.MASKED,
        },
    ),
    "id_number": FieldRule(
        mask_id_number,
        {Role.CONTACT_CADRE: Visibility.MASKED, Role.DEPT_DUTY: Visibility.MASKED},
        never_full=True,
    ),
    "phone": FieldRule(
        mask_phone,
        {Role.CONTACT_CADRE: Visibility.MASKED, Role.VILLAGE_CADRE: Visibility.MASKED},
        never_full=True,
    ),
    "bank_account": FieldRule(mask_bank_account, {}, never_full=True),
    "health_detail": FieldRule(_withheld, {Role.CONTACT_CADRE: Visibility.FULL}),
}

_FORMATTER = string.Formatter()
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Message:
    """A rendered notification: subject line and body, in one locale."""

    kind: str
    locale: str
    subject: str
    body: str


@dataclass(frozen=True)
class KindTemplate:
    tag: str
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class LocaleFormat:
    subject: str
    date: str
    list_separator: str
    phase_tag: str
    phases: Mapping[Phase, str]
    digest: Mapping[str, str]
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name is not None]


def _fill(template: str, values: Mapping[str, str]) -> str | None:
    """Substitute plain `{name}` fields; None when one is absent (the line is left out)."""
    out: list[str] = []
    for literal, name, _, _ in _FORMATTER.parse(template):
        out.append(literal)
        if name is None:
            continue
        if name not in values:
            return None
        out.append(values[name])
    return "".join(out)


class _Validator:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def text(self, value: Any, path: str, allowed: Collection[str] | None = None) -> str:
        if not isinstance(value, str) or not value:
            self.problems.append(f"{path}: missing or not text")
            return ""
        try:
            parsed = list(_FORMATTER.parse(value))
        except ValueError as exc:
            self.problems.append(f"{path}: {exc}")
            return ""
        for _, name, spec, conversion in parsed:
            if name is None:
                continue
            if not _FIELD_NAME.match(name) or spec or conversion:
                self.problems.append(f"{path}: {{{name}}} must be a plain field name")
            elif allowed is not None and name not in allowed:
                self.problems.append(f"{path}: {{{name}}} not allowed (only {sorted(allowed)})")
        return value

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.problems.append(f"{path}: missing or not a mapping")
            return {}
        return value


@dataclass(frozen=True)
class TemplateCatalog:
    """Every kind's template in every locale, validated as a whole when built."""

    fallback_locale: str
    locales: Mapping[str, LocaleFormat]
    kinds: Mapping[EventKind, Mapping[str, KindTemplate]]
    required: Mapping[EventKind, frozenset[str]]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TemplateCatalog:
        v = _Validator()
        raw_locales = v.mapping(data.get("locales"), "locales")
        locales: dict[str, LocaleFormat] = {}
        for loc, raw in raw_locales.items():
            raw = v.mapping(raw, f"locales.{loc}")
            where = f"locales.{loc}"
            phases = v.mapping(raw.get("phases"), f"locales.{loc}.phases")
            digest = v.mapping(raw.get("digest"), f"locales.{loc}.digest")
            labels = v.mapping(raw.get("labels", {}), f"locales.{loc}.labels")
            locales[loc] = LocaleFormat(
                subject=v.text(raw.get("subject"), f"locales.{loc}.subject", {"tag", "title"}),
                date=v.text(raw.get("date"), f"{where}.date", {"year", "month", "day", "iso"}),
                list_separator=str(raw.get("list_separator", ", ")),
                phase_tag=v.text(raw.get("phase_tag"), f"{where}.phase_tag", {"tag", "phase"}),
                phases={
                    p: v.text(phases.get(p.value), f"locales.{loc}.phases.{p.value}") for p in Phase
                },
                digest={
                    "tag": v.text(digest.get("tag"), f"locales.{loc}.digest.tag", ()),
                    "title": v.text(
                        digest.get("title"), f"locales.{loc}.digest.title", {"day", "count"}
                    ),
                    "intro": v.text(digest.get("intro"), f"locales.{loc}.digest.intro", ()),
                    "item": v.text(
                        digest.get("item"), f"locales.{loc}.digest.item", {"index", "title"}
                    ),
                },
                labels={
                    str(name): {str(code): str(label) for code, label in table.items()}
                    for name, table in labels.items()
                    if isinstance(table, Mapping)
                },
            )
        fallback = str(data.get("fallback_locale", ""))
        if fallback not in locales:
            v.problems.append(f"fallback_locale: {fallback!r} is not one of {sorted(locales)}")

        raw_kinds = v.mapping(data.get("kinds"), "kinds")
        unknown = sorted(set(raw_kinds) - {k.value for k in EventKind})
        missing = sorted({k.value for k in EventKind} - set(raw_kinds))
        if unknown:
            v.problems.append(f"kinds: unknown kinds {unknown}")
        if missing:
            v.problems.append(f"kinds: no template for {missing}")
        kinds: dict[EventKind, dict[str, KindTemplate]] = {}
        required: dict[EventKind, frozenset[str]] = {}
        for name in sorted(set(raw_kinds) - set(unknown)):
            kind = EventKind(name)
            raw = v.mapping(raw_kinds[name], f"kinds.{name}")
            req = frozenset(str(f) for f in raw.get("required", []))
            sensitive = sorted(req & FIELD_POLICY.keys())
            if sensitive:
                v.problems.append(f"kinds.{name}.required: sensitive fields {sensitive}")
            required[kind] = req
            kinds[kind] = {}
            for loc in locales:
                path = f"kinds.{name}.{loc}"
                tmpl = v.mapping(raw.get(loc), path)
                lines = tmpl.get("lines")
                if not isinstance(lines, list) or not lines:
                    v.problems.append(f"{path}.lines: missing or empty")
                    lines = [""]
                kinds[kind][loc] = KindTemplate(
                    tag=v.text(tmpl.get("tag"), f"{path}.tag", ()),
                    title=v.text(tmpl.get("title"), f"{path}.title", req),
                    lines=(
                        v.text(lines[0], f"{path}.lines[0]", req),
                        *(
                            v.text(line, f"{path}.lines[{i}]")
                            for i, line in enumerate(lines[1:], 1)
                        ),
                    ),
                )
        if v.problems:
            raise TemplateError("template catalog: " + "; ".join(v.problems))
        return cls(fallback_locale=fallback, locales=locales, kinds=kinds, required=required)

    def resolve_locale(self, requested: str) -> str:
        """Exact locale, else the same language (`zh` -> `zh-CN`), else the fallback (English)."""
        if requested in self.locales:
            return requested
        language = requested.replace("_", "-").split("-")[0].lower()
        for loc in self.locales:
            if loc.split("-")[0].lower() == language:
                return loc
        return self.fallback_locale


def load_catalog(text: str) -> TemplateCatalog:
    """Parse and validate a catalog from its YAML text."""
    data = yaml.safe_load(text)
    if not isinstance(data, Mapping):
        raise TemplateError("template catalog: not a mapping")
    return TemplateCatalog.from_mapping(data)


@functools.cache
def default_catalog() -> TemplateCatalog:
    """The catalog shipped with the package (fangpin_notify/templates/messages.yaml).

    Static package data read once, like an import; the domain does no other I/O.
    """
    text = resources.files("fangpin_notify").joinpath("templates/messages.yaml").read_text("utf-8")
    return load_catalog(text)


def _format_scalar(name: str, value: Any, fmt: LocaleFormat) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # instants are UTC; people read China time
            value = value.astimezone(CHINA)
        return f"{_format_scalar(name, value.date(), fmt)} {value:%H:%M}"
    if isinstance(value, date):
        return fmt.date.format(
            year=value.year, month=value.month, day=value.day, iso=value.isoformat()
        )
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    text = str(value)
    return fmt.labels.get(name, {}).get(text, text)


def _format_value(name: str, value: Any, fmt: LocaleFormat) -> str | None:
    """Display text of a context value, or None when there is nothing to show."""
    if value is None or isinstance(value, bool):  # yes/no flags have no place in the text
        return None
    if isinstance(value, list | tuple | set | frozenset):
        items = [_format_scalar(name, item, fmt) for item in value if item not in (None, "")]
        return fmt.list_separator.join(items) or None
    text = _format_scalar(name, value, fmt)
    return text or None


def visible_values(
    context: Mapping[str, Any], roles: Collection[Role], fmt: LocaleFormat
) -> dict[str, str]:
    """Context as display text for these roles: labels applied, sensitive fields masked/dropped."""
    values: dict[str, str] = {}
    for name, raw in context.items():
        if isinstance(raw, Mapping):  # nested records (a household) are never rendered
            continue
        rule = FIELD_POLICY.get(name)
        if rule is not None:
            level = rule.visibility(roles)
            if level is Visibility.HIDDEN:
                continue
            if level is Visibility.MASKED:
                raw = rule.masker(str(raw)) if raw not in (None, "") else None
        text = _format_value(name, raw, fmt)
        if text is not None:
            values[name] = mask_text(text)
    return values


def render(
    catalog: TemplateCatalog,
    kind: EventKind | str,
    context: Mapping[str, Any],
    *,
    roles: Collection[Role],
    locale: str = "zh-CN",
    phase: Phase | None = None,
) -> Message:
    """Render `kind` for a recipient holding `roles`, in their locale (falling back to English).

    A `phase` (reminder before / on / after the due date) is added to the subject tag and
    needs `days_left` or `days_overdue` in the context.
    """
    kind = EventKind(kind)
    missing = sorted(f for f in catalog.required[kind] if context.get(f) in (None, "", [], ()))
    if missing:
        raise TemplateError(f"{kind}: context lacks required fields {missing}")
    loc = catalog.resolve_locale(locale)
    fmt = catalog.locales[loc]
    tmpl = catalog.kinds[kind][loc]
    values = visible_values(context, roles, fmt)
    tag = tmpl.tag
    if phase is not None:
        phase_text = _fill(fmt.phases[Phase(phase)], values)
        if phase_text is None:
            raise TemplateError(f"{kind}: phase {phase} needs {_fields(fmt.phases[phase])}")
        tag = fmt.phase_tag.format(tag=tag, phase=phase_text)
    title = _fill(tmpl.title, values)
    first = _fill(tmpl.lines[0], values)
    if title is None or first is None:  # required fields are present, so only a bad catalog
        raise TemplateError(f"{kind}: title or first line cannot be rendered")
    lines = [first, *(t for t in (_fill(line, values) for line in tmpl.lines[1:]) if t)]
    return Message(
        kind=kind.value,
        locale=loc,
        subject=mask_text(fmt.subject.format(tag=tag, title=title)),
        body=mask_text("\n".join(lines)),
    )


def render_digest(
    catalog: TemplateCatalog, day: date, titles: Sequence[str], *, locale: str = "zh-CN"
) -> Message:
    """One message listing the subjects of many notices for the same recipient and day."""
    loc = catalog.resolve_locale(locale)
    fmt = catalog.locales[loc]
    title = fmt.digest["title"].format(day=_format_scalar("day", day, fmt), count=len(titles))
    items: Iterable[str] = (
        fmt.digest["item"].format(index=i, title=t) for i, t in enumerate(titles, 1)
    )
    return Message(
        kind=DIGEST_KIND,
        locale=loc,
        subject=mask_text(fmt.subject.format(tag=fmt.digest["tag"], title=title)),
        body=mask_text("\n".join([fmt.digest["intro"], *items])),
    )
