"""Human output of the CLI: tables with zh-CN labels and China local time, or JSON lines.

One decision, `table_mode`: a terminal gets tables (rich) in the cadre's words, anything else
(a pipe, a file, a test runner) or `--json` gets the JSON lines scripts rely on, unchanged.
Views take the same dicts the JSON lines print, so both show the same facts. Instants are shown
in China local time (北京时间, Asia/Shanghai); codes by their names in the vocabulary
(`fangpin_contracts.vocabulary`), extended with the measure catalog's names.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import typer
from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from fangpin_cli.endpoints import emit_json
from fangpin_contracts.vocabulary import LANGS, Vocabulary, load
from fangpin_kit.clock import CHINA

Row = Mapping[str, Any]

JsonFlag = typer.Option(
    False, "--json", help="JSON as scripts read it (the default when stdout is not a terminal)"
)
LangOption = typer.Option(
    "zh",
    "--lang",
    help="labels of the tables: zh (中文) or en (English where we have it, else codes)",
)


def table_mode(as_json: bool) -> bool:
    """Tables for a person at a terminal; JSON lines for `--json`, pipes, files and scripts."""
    return not as_json and sys.stdout.isatty()


@cache
def full_vocabulary() -> Vocabulary:
    """The contracts vocabulary plus the measure names of the assistance catalog."""
    from fangpin_assistance.domain.catalog import CatalogError, load_catalog

    base = load()
    try:
        catalog = load_catalog()
    except (CatalogError, OSError):
        return base
    types = {code: kind.name_zh for code, kind in catalog.measure_types.items()}
    subs = {
        sub.key: sub.name_zh
        for kind in catalog.measure_types.values()
        for sub in kind.sub_measures.values()
    }
    return base.extended("measure_type", types).extended("sub_measure", subs)


@dataclass(frozen=True)
class Labels:
    """How a view names things: codes, column names, times, flags and households."""

    lang: str = "zh"
    names: Mapping[str, str] = field(default_factory=dict)
    vocabulary: Vocabulary = field(default_factory=full_vocabulary)

    def code(self, kind: str, code: str | None) -> str:
        return self.vocabulary.label(kind, code or "", self.lang)

    def codes(self, kind: str, codes: Iterable[str] | None) -> str:
        separator = "、" if self.lang == "zh" else ", "
        return separator.join(self.vocabulary.labels(kind, codes or (), self.lang))

    def heading(self, name: str) -> str:
        """A column (or line) name."""
        return self.vocabulary.label("field", name, self.lang)

    def stat(self, key: str) -> str:
        """A count's name; `cases_<status>` and `notices_<state>` are composed."""
        if self.vocabulary.has("stat", key, self.lang):
            return self.code("stat", key)
        for prefix, kind in (("cases_", "case_status"), ("notices_", "notice_state")):
            if key.startswith(prefix) and self.vocabulary.has(kind, key[len(prefix) :]):
                whole = self.code("stat", prefix[:-1])
                part = self.code(kind, key[len(prefix) :])
                return f"{whole}（{part}）" if self.lang == "zh" else f"{whole} ({part})"
        return self.code("stat", key)

    def when(self, instant: str | None) -> str:
        """An ISO instant as China local time `YYYY-MM-DD HH:MM`; a date stays a date."""
        return local_time(instant)

    def flag(self, value: Any) -> str:
        if not value:
            return ""
        return "是" if self.lang == "zh" else "yes"

    def household(self, household_id: str | None) -> str:
        return self.names.get(household_id or "", "")

    def violation(self, name: str) -> str:
        """A plan rule violation `rule[:subject]`, e.g. `risk_not_covered:illness`."""
        rule, _, subject = name.partition(":")
        subject_kind = {"risk_not_covered": "risk_type", "guarantee_not_covered": "referral"}
        shown = self.code("plan_rule", rule)
        if subject:
            part = self.code(subject_kind[rule], subject) if rule in subject_kind else subject
            shown += f"：{part}" if self.lang == "zh" else f": {part}"
        return shown


def check_lang(lang: str) -> str:
    """`lang` when we have it; else a usage error naming `--lang` (exit 2)."""
    if lang not in LANGS:
        raise typer.BadParameter(
            f"{lang!r}: expected one of {', '.join(LANGS)}", param_hint="--lang"
        )
    return lang


def labels(lang: str, names: Mapping[str, str] | None = None) -> Labels:
    """Labels in `lang` (checked), knowing the households' `names`."""
    return Labels(lang=check_lang(lang), names=dict(names or {}))


def local_time(instant: str | None) -> str:
    """`2026-06-01T02:00:00Z` -> `2026-06-01 10:00` (China); dates and blanks as they are."""
    if not instant or "T" not in instant:
        return instant or ""
    try:
        parsed = datetime.fromisoformat(instant)
    except ValueError:
        return instant
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # the services store instants in UTC
    return parsed.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


# ------------------------------------------------------------------------------ emitting

RowsView = Callable[[Sequence[Row], Labels], RenderableType]
OneView = Callable[[Row, Labels], RenderableType]


def emit_rows(
    rows: Sequence[Row],
    *,
    as_json: bool,
    lang: str,
    view: RowsView,
    with_names: bool = False,
) -> None:
    """One table of `rows` on a terminal, else one JSON line per row (exactly as before)."""
    if not table_mode(as_json):
        check_lang(lang)  # a bad --lang is refused whatever the output
        for row in rows:
            emit_json(row)
        return
    names = _names(rows) if with_names else {}
    show(view(rows, labels(lang, names)))


def emit_one(
    row: Row, *, as_json: bool, lang: str, view: OneView, with_names: bool = False
) -> None:
    """One record's view on a terminal, else its JSON line (exactly as before)."""
    if not table_mode(as_json):
        check_lang(lang)
        emit_json(row)
        return
    names = _names([row]) if with_names else {}
    show(view(row, labels(lang, names)))


def show(renderable: RenderableType, console: Console | None = None) -> None:
    """Print a view on stdout (or `console`)."""
    (console or Console()).print(renderable)


def _names(rows: Sequence[Row]) -> dict[str, str]:
    from fangpin_cli.names import head_names

    return head_names(str(row.get("household_id") or "") for row in rows)


# ----------------------------------------------------------------------------- building


# dates, times and region codes are never folded; other columns give way on a narrow terminal
_KEEP_WHOLE = frozenset(
    {
        "village", "region", "due", "identified_on", "time", "created_at", "as_of", "decided_at",
        "reply_due", "term_end", "clue_on", "count",
    }
)  # fmt: skip


class _PlainTable(Table):
    """A table whose text cells are shown as written: a comment like `[/ROLE]` or
    `[red]` is text, never rich markup."""

    def add_row(self, *renderables: RenderableType | None, **kwargs: Any) -> None:
        cells = [Text(cell) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, **kwargs)


def _table(labels: Labels, columns: Sequence[str], title: str = "") -> Table:
    table = _PlainTable(box=box.SIMPLE_HEAVY, header_style="bold", title=title or None)
    for name in columns:
        table.add_column(labels.heading(name), overflow="fold", no_wrap=name in _KEEP_WHOLE)
    return table


def _count(table: Table, labels: Labels, n: int) -> Table:
    table.caption = f"共 {n} 条" if labels.lang == "zh" else f"{n} row(s)"
    return table


def _grid(labels: Labels, pairs: Sequence[tuple[str, RenderableType | str]]) -> Table:
    """Name/value lines, skipping empty values."""
    grid = _PlainTable.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for name, value in pairs:
        empty = value is None or (value.plain if isinstance(value, Text) else value) == ""
        if not empty:
            grid.add_row(labels.heading(name), value)
    return grid


def _alert(text: str) -> Text:
    return Text(text, style="bold red")


def _region(row: Row) -> str:
    region = row.get("region")
    if isinstance(region, Mapping):
        return str(region.get("village") or region.get("town") or region.get("county") or "")
    return str(region or "")


def _who(labels: Labels, household_id: str | None) -> str:
    name = labels.household(household_id)
    return f"{name}（{household_id}）" if name else str(household_id or "")


def _household_cell(labels: Labels, household_id: str | None) -> str:
    """The head's name above the household id (one narrow column in list tables)."""
    name = labels.household(household_id)
    return f"{name}\n{household_id}" if name else str(household_id or "")


def _money(value: Any) -> str:
    return "" if value is None else f"{float(value):,.2f}"


# -------------------------------------------------------------------------------- cases


def case_table(cases: Sequence[Row], labels: Labels) -> RenderableType:
    """`case list`: one line per case."""
    columns = (
        "case_id", "household", "village", "kind", "step", "status",
        "category", "risk_types", "due", "overdue",
    )  # fmt: skip
    table = _table(labels, columns)
    for case in cases:
        table.add_row(
            str(case.get("case_id", "")),
            _household_cell(labels, case.get("household_id")),
            _region(case),
            labels.code("case_kind", case.get("kind")),
            labels.code("step", case.get("step")),
            labels.code("case_status", case.get("status")),
            labels.code("category", case.get("category")),
            labels.codes("risk_type", case.get("risk_types")),
            str((case.get("due") or {}).get("approval", "")),
            _alert(labels.flag(case.get("overdue"))),
        )
    return _count(table, labels, len(cases))


def procedure_line(case: Row, labels: Labels, steps: Sequence[str]) -> Text:
    """The case's steps in order: signed ✓, current ▶ (✗ when refused), to come plain."""
    step, status = case.get("step"), case.get("status")
    line = Text()
    current = steps.index(step) if step in steps else -1
    for i, code in enumerate(steps):
        if i:
            line.append(" → ")
        name = labels.code("step", code)
        if status == "approved" or i < current:
            line.append(f"✓{name}", style="green")
        elif i == current and status in ("rejected", "withdrawn"):
            line.append(f"✗{name}", style="bold red")
        elif i == current:
            line.append(f"▶{name}", style="bold")
        else:
            line.append(name, style="dim")
    return line


def case_view(
    case: Row, labels: Labels, procedures: Mapping[str, Sequence[str]] | None = None
) -> RenderableType:
    """`case show` and every case action: the case, its due dates and its timeline."""
    steps = (procedures or {}).get(str(case.get("kind") or ""), ())
    due = case.get("due") or {}
    by_date = sorted((v, k) for k, v in due.items() if v)
    dues = "；".join(f"{labels.code('deadline', k)} {v}" for v, k in by_date)
    green = case.get("green_channel_state") or ("open" if case.get("green_channel") else "")
    green = "" if green == "none" else green
    grid = _grid(
        labels,
        [
            ("case_id", str(case.get("case_id", ""))),
            ("household", _who(labels, case.get("household_id"))),
            ("village", _region(case)),
            ("kind", labels.code("case_kind", case.get("kind"))),
            ("procedure", procedure_line(case, labels, steps) if steps else ""),
            ("step", labels.code("step", case.get("step"))),
            ("status", labels.code("case_status", case.get("status"))),
            ("category", labels.code("category", case.get("category"))),
            ("risk_types", labels.codes("risk_type", case.get("risk_types"))),
            ("excluded_by", labels.codes("exclusion", case.get("excluded_by"))),
            ("special_reason", str(case.get("special_reason") or "")),
            ("elimination_mode", labels.code("elimination_mode", case.get("elimination_mode"))),
            ("measures", labels.codes("sub_measure", case.get("measures"))),
            ("green_channel", labels.code("green_channel_state", green) if green else ""),
            ("clue_on", str(case.get("clue_on") or "")),
            ("opened_at", labels.when(case.get("opened_at"))),
            ("notice_published_on", str(case.get("notice_published_on") or "")),
            ("due", dues),
            ("overdue", _alert(labels.flag(case.get("overdue")))),
            ("decided_at", labels.when(case.get("decided_at"))),
            ("system_entry_on", str(case.get("system_entry_on") or "")),
            ("version", str(case.get("version") or "0")),
        ],
    )
    timeline = case.get("timeline") or []
    if not timeline:
        return grid
    return Group(grid, timeline_table(timeline, labels))


def timeline_table(entries: Sequence[Row], labels: Labels) -> Table:
    """A case's actions in order (办理记录)."""
    columns = ("seq", "time", "action", "at_step", "actor", "comment")
    table = _table(labels, columns, labels.heading("timeline"))
    for entry in entries:
        step, to_step = entry.get("step"), entry.get("to_step")
        moved = labels.code("step", step)
        if to_step and to_step != step:
            moved += f" → {labels.code('step', to_step)}"
        table.add_row(
            str(entry.get("seq", "")),
            labels.when(entry.get("at")),
            labels.code("case_action", entry.get("action")),
            moved,
            _signers(entry, labels),
            _remark(entry, labels),
        )
    return table


def _signers(entry: Row, labels: Labels) -> str:
    """`村（社区）李支书、乡镇（街道）赵镇长` (en: `李支书 (village)`)."""
    people = [entry.get("actor"), *(entry.get("co_signers") or [])]
    named = []
    for person in people:
        if isinstance(person, Mapping):
            name = person.get("name") or person.get("id")
            level = labels.code("level", person.get("level"))
            named.append(f"{level}{name}" if labels.lang == "zh" else f"{name} ({level})")
    return "、".join(named)


def _remark(entry: Row, labels: Labels) -> str:
    text = " ".join(str(entry.get(k) or "") for k in ("comment", "reason")).strip()
    if entry.get("action") == "record_screening":
        try:
            details = json.loads(entry.get("details_json") or "{}")
        except json.JSONDecodeError:
            details = {}
        found = [
            labels.code("category", details.get("category")),
            labels.codes("risk_type", details.get("risk_types")),
            labels.codes("exclusion", details.get("exclusions")),
        ]
        text = " ".join(part for part in (*found, text) if part)
    return text


# ----------------------------------------------------------------------------- register


def register_table(entries: Sequence[Row], labels: Labels) -> RenderableType:
    """`register list`: one line per monitored household."""
    columns = (
        "household", "village", "status", "category", "risk_types",
        "identified_on", "green_channel", "open_case_id",
    )  # fmt: skip
    table = _table(labels, columns)
    for entry in entries:
        table.add_row(
            _household_cell(labels, entry.get("household_id")),
            _region(entry),
            labels.code("register_status", entry.get("status")),
            labels.code("category", entry.get("category")),
            labels.codes("risk_type", entry.get("risk_types")),
            str(entry.get("identified_on") or ""),
            labels.flag(entry.get("green_channel")),
            str(entry.get("open_case_id") or ""),
        )
    return _count(table, labels, len(entries))


def register_view(entry: Row, labels: Labels) -> RenderableType:
    """`register show`: the entry and its history of status changes."""
    grid = _grid(
        labels,
        [
            ("household", _who(labels, entry.get("household_id"))),
            ("village", _region(entry)),
            ("status", labels.code("register_status", entry.get("status"))),
            ("category", labels.code("category", entry.get("category"))),
            ("risk_types", labels.codes("risk_type", entry.get("risk_types"))),
            ("identified_on", str(entry.get("identified_on") or "")),
            ("green_channel", labels.flag(entry.get("green_channel"))),
            ("eliminated_on", str(entry.get("eliminated_on") or "")),
            ("elimination_mode", labels.code("elimination_mode", entry.get("elimination_mode"))),
            ("held_reason", str(entry.get("held_reason") or "")),
            ("open_case_id", str(entry.get("open_case_id") or "")),
        ],
    )
    history = entry.get("history") or []
    if not history:
        return grid
    table = _table(labels, ("time", "status", "case_id", "reason", "actor"))
    table.title = labels.heading("history")
    for change in history:
        before = labels.code("register_status", change.get("from_status"))
        after = labels.code("register_status", change.get("to_status"))
        table.add_row(
            str(change.get("on") or ""),
            f"{before} → {after}" if before else after,
            str(change.get("case_id") or ""),
            str(change.get("reason") or ""),
            str(change.get("actor_id") or ""),
        )
    return Group(grid, table)


# --------------------------------------------------------------------------- assistance


def _measure_name(measure: Row, labels: Labels) -> str:
    key = f"{measure.get('type', '')}.{measure.get('sub_measure', '')}"
    if labels.lang == "zh" and measure.get("name_zh"):
        return str(measure["name_zh"])
    return labels.code("sub_measure", key)


def measure_table(measures: Sequence[Row], labels: Labels, title: str = "") -> Table:
    """`measures list` and a plan's measures."""
    columns = (
        "measure_id", "household", "sub_measure", "type", "dept",
        "beneficiary", "status", "reply_due", "term_end", "overdue",
    )  # fmt: skip
    table = _table(labels, columns, title)
    for measure in measures:
        table.add_row(
            str(measure.get("measure_id", "")),
            _household_cell(labels, measure.get("household_id")),
            _measure_name(measure, labels),
            labels.code("measure_type", measure.get("type")),
            labels.code("department", measure.get("dept")),
            str(measure.get("beneficiary") or ""),
            labels.code("measure_status", measure.get("status")),
            str(measure.get("reply_due") or ""),
            str(measure.get("term_end") or ""),
            _alert(labels.flag(measure.get("overdue"))),
        )
    return _count(table, labels, len(measures))


def measures_table(measures: Sequence[Row], labels: Labels) -> RenderableType:
    return measure_table(measures, labels)


def plan_view(plan: Row, labels: Labels) -> RenderableType:
    """`plan show` and the plan actions: the plan (一户一策), its measures and replacements."""
    waivers = "；".join(
        f"{labels.violation(str(w.get('violation', '')))}：{w.get('reason', '')}"
        for w in plan.get("waivers") or []
    )
    grid = _grid(
        labels,
        [
            ("household", _who(labels, plan.get("household_id"))),
            ("village", _region(plan)),
            ("plan_id", str(plan.get("plan_id") or "")),
            ("status", labels.code("plan_status", plan.get("status"))),
            ("due", str(plan.get("due") or "")),
            ("overdue", _alert(labels.flag(plan.get("overdue")))),
            ("case_id", str(plan.get("case_id") or "")),
            ("category", labels.code("category", plan.get("category"))),
            ("risk_types", labels.codes("risk_type", plan.get("risk_types"))),
            ("identified_on", str(plan.get("identified_on") or "")),
            ("green_channel", labels.flag(plan.get("green_channel"))),
            ("contact_cadres", "、".join(plan.get("contact_cadres") or [])),
            ("violations", _alert("；".join(map(labels.violation, plan.get("violations") or [])))),
            ("waivers", waivers),
            ("confirmed_at", labels.when(plan.get("confirmed_at"))),
            ("confirmed_by", str(plan.get("confirmed_by") or "")),
            ("stopped_at", labels.when(plan.get("stopped_at"))),
            ("stop_reason", str(plan.get("stop_reason") or "")),
        ],
    )
    parts: list[RenderableType] = [grid]
    measures = plan.get("measures") or []
    if measures:
        parts.append(measure_table(measures, labels, labels.heading("measures")))
    replacements = plan.get("replacements") or []
    if replacements:
        table = _table(labels, ("measure_id", "measure", "status", "reason"))
        table.title = labels.heading("replacements")
        for item in replacements:
            table.add_row(
                str(item.get("measure_id", "")),
                labels.code("sub_measure", item.get("proposed_key")),
                labels.code("replacement_status", item.get("status")),
                str(item.get("reason") or ""),
            )
        parts.append(table)
    return Group(*parts)


def tasks_table(tasks: Sequence[Row], labels: Labels) -> RenderableType:
    """`followup tasks`: visits, income collection, plans and replacements due."""
    columns = (
        "task_id", "kind", "household", "due", "status", "assignees",
        "period", "overdue",
    )  # fmt: skip
    table = _table(labels, columns)
    for task in tasks:
        start, end = task.get("period_start"), task.get("period_end")
        table.add_row(
            str(task.get("task_id", "")),
            labels.code("task_kind", task.get("kind")),
            _household_cell(labels, task.get("household_id")),
            str(task.get("due") or ""),
            labels.code("task_status", task.get("status")),
            "、".join(task.get("assignees") or []),
            f"{start} ~ {end}" if start else "",
            _alert(labels.flag(task.get("overdue"))),
        )
    return _count(table, labels, len(tasks))


# ------------------------------------------------------------------------------- notify


def notices_table(notices: Sequence[Row], labels: Labels) -> RenderableType:
    """`notify list`: notices, newest first."""
    columns = [
        "created_at", "kind", "recipient", "channel", "state", "phase", "household", "title",
        "attempts",
    ]  # fmt: skip
    with_body = any("body" in notice for notice in notices)
    table = _table(labels, [*columns, "body"] if with_body else columns)
    for notice in notices:
        cells = [
            labels.when(notice.get("created_at")),
            labels.code("notice_kind", notice.get("kind")),
            str(notice.get("recipient") or ""),
            labels.code("channel", notice.get("channel")),
            labels.code("notice_state", notice.get("state")),
            labels.code("phase", notice.get("phase")),
            _household_cell(labels, notice.get("household_id")),
            str(notice.get("title") or ""),
            str(notice.get("attempts") or 0),
        ]
        if with_body:
            cells.append(str(notice.get("body") or ""))
        table.add_row(*cells)
    return _count(table, labels, len(notices))


def notice_view(notice: Row, labels: Labels) -> RenderableType:
    """`notify show`: one notice, its delivery and every attempt."""
    grid = _grid(
        labels,
        [
            ("notice_id", str(notice.get("notice_id") or "")),
            ("kind", labels.code("notice_kind", notice.get("kind"))),
            ("title", str(notice.get("title") or "")),
            ("recipient", str(notice.get("recipient") or "")),
            ("channel", labels.code("channel", notice.get("channel"))),
            ("address", str(notice.get("address") or "")),
            ("state", labels.code("notice_state", notice.get("state"))),
            ("phase", labels.code("phase", notice.get("phase"))),
            ("household", _who(labels, notice.get("household_id"))),
            ("created_at", labels.when(notice.get("created_at"))),
            ("delivered_at", labels.when(notice.get("delivered_at"))),
            ("attempts", str(notice.get("attempts") or 0)),
            ("last_error", str(notice.get("last_error") or "")),
            ("body", str(notice.get("body") or "")),
        ],
    )
    attempts = notice.get("history") or []
    if not attempts:
        return grid
    table = _table(labels, ("seq", "time", "state", "comment"))
    for attempt in attempts:
        ok = labels.code("notice_state", "delivered" if attempt.get("ok") else "failed")
        table.add_row(
            str(attempt.get("number", "")),
            labels.when(attempt.get("at")),
            ok,
            str(attempt.get("detail") or ""),
        )
    return Group(grid, table)


def subscriptions_table(subscriptions: Sequence[Row], labels: Labels) -> RenderableType:
    """`notify subscriptions`."""
    columns = (
        "subscription_id", "recipient", "role", "region", "dept", "channel", "address",
        "event_kinds", "active",
    )  # fmt: skip
    table = _table(labels, columns)
    for sub in subscriptions:
        table.add_row(
            str(sub.get("subscription_id") or ""),
            str(sub.get("recipient_id") or ""),
            labels.code("notify_role", sub.get("role")),
            str(sub.get("region") or ""),
            labels.code("department", sub.get("dept")),
            labels.code("channel", sub.get("channel")),
            str(sub.get("address") or ""),
            labels.codes("notice_kind", sub.get("event_kinds")),
            labels.flag(sub.get("active")),
        )
    return _count(table, labels, len(subscriptions))


def deadlines_table(deadlines: Sequence[Row], labels: Labels) -> RenderableType:
    """`notify deadlines`: what notify reminds of."""
    columns = (
        "kind", "due", "region", "household", "status", "mode",
        "notices", "closed_reason", "key",
    )  # fmt: skip
    table = _table(labels, columns)
    for deadline in deadlines:
        table.add_row(
            labels.code("notice_kind", deadline.get("kind")),
            str(deadline.get("due") or ""),
            str(deadline.get("region") or ""),
            _household_cell(labels, deadline.get("household_id")),
            labels.code("deadline_status", deadline.get("status")),
            labels.code("deadline_mode", deadline.get("mode")),
            str(deadline.get("notices") or 0),
            str(deadline.get("closed_reason") or ""),
            str(deadline.get("key") or ""),
        )
    return _count(table, labels, len(deadlines))


# ---------------------------------------------------------------------------- screening


def decisions_table(decisions: Sequence[Row], labels: Labels) -> RenderableType:
    """`screening decisions`: a household's decisions (and their rule traces with --trace)."""
    columns = (
        "household", "as_of", "decided_at", "reason", "in_scope",
        "eligible", "category", "risk_types", "excluded_by", "referrals", "per_capita",
        "threshold", "rollback",
    )  # fmt: skip
    table = _table(labels, columns)
    traces: list[tuple[Row, Row]] = []
    for decision in decisions:
        table.add_row(
            _household_cell(labels, decision.get("household_id")),
            str(decision.get("as_of") or ""),
            labels.when(decision.get("decided_at")),
            labels.code("decision_reason", decision.get("reason")),
            labels.flag(decision.get("in_scope")),
            labels.flag(decision.get("eligible")),
            labels.code("category", decision.get("category")),
            labels.codes("risk_type", decision.get("risk_types")),
            labels.codes("exclusion", decision.get("excluded_by")),
            labels.codes("referral", decision.get("referrals")),
            _money(decision.get("per_capita")),
            _money(decision.get("threshold")),
            labels.codes("rollback_reason", decision.get("rollback_reasons"))
            or labels.flag(decision.get("rollback")),
        )
        traces.extend((decision, step) for step in decision.get("trace") or [])
    _count(table, labels, len(decisions))
    if not traces:
        return table
    trace = _table(labels, ("household_id", "as_of", "rule", "hit", "values"))
    for decision, step in traces:
        trace.add_row(
            str(decision.get("household_id", "")),
            str(decision.get("as_of") or ""),
            str(step.get("rule", "")),
            labels.flag(step.get("hit")),
            json.dumps(step.get("values") or {}, ensure_ascii=False),
        )
    return Group(table, trace)


# ---------------------------------------------------------------------------------- ops


def stats_view(stats: Row, labels: Labels) -> RenderableType:
    """`ops stats`: one table of counts per service; a service that did not answer says so."""
    known = labels.vocabulary.codes("stat")

    def order(key: str) -> tuple[int, str]:
        """The vocabulary's order, a `cases_<status>` after `cases`, unknown counts last."""
        base = key if key in known else key.partition("_")[0]
        return (known.index(base) if base in known else len(known), key)

    tables: list[RenderableType] = []
    for service, counts in stats.items():
        table = _table(labels, ("name", "count"), labels.code("service", service))
        table.min_width = 40
        table.columns[1].justify = "right"
        if not counts:
            silent = "（无应答）" if labels.lang == "zh" else "(no answer)"
            table.add_row(_alert(silent), "")
        for key, value in sorted((counts or {}).items(), key=lambda item: order(item[0])):
            table.add_row(labels.stat(key), f"{value:,}")
        tables.append(table)
    return Group(*tables)


# ------------------------------------------------------------- follow-up, cadres, notify


def _zh(labels: Labels, zh: str, en: str) -> str:
    return zh if labels.lang == "zh" else en


def _masked(text: Any) -> str:
    """Free text as shown to people: ID numbers and phone numbers in it masked."""
    from fangpin_kit.masking import mask_text

    return mask_text(str(text or ""))


def visit_view(visit: Row, labels: Labels) -> RenderableType:
    """`followup visit`: the visit recorded (走访) and the visit tasks it completed."""
    return _grid(
        labels,
        [
            ("household", _who(labels, visit.get("household_id"))),
            ("visited_on", str(visit.get("visited_on") or "")),
            ("cadre_id", str(visit.get("cadre_id") or "")),
            ("mode", labels.code("visit_mode", visit.get("mode"))),
            ("closed_tasks", "、".join(visit.get("closed_tasks") or [])),
        ],
    )


def income_view(income: Row, labels: Labels) -> RenderableType:
    """`followup income`: one period's income as recorded (收入采集), in yuan."""
    start, end = income.get("period_start"), income.get("period_end")
    return _grid(
        labels,
        [
            ("household", _who(labels, income.get("household_id"))),
            ("period", f"{start} ~ {end}" if start else ""),
            ("members", str(income.get("members") or "")),
            ("net", _money(income.get("net", 0.0))),
            ("per_capita", _money(income.get("per_capita", 0.0))),
            ("revision", str(income.get("revision") or "")),
        ],
    )


def cadres_view(reply: Row, labels: Labels) -> RenderableType:
    """`plan assign-cadre`: the contact cadres (帮扶联系人) now named, and what the plan lacks."""
    violations = reply.get("violations") or []
    pairs: list[tuple[str, RenderableType | str]] = [
        ("household", _who(labels, reply.get("household_id"))),
        ("region", str(reply.get("region") or "")),
        ("cadres", "、".join(reply.get("cadres") or [])),
    ]
    if violations:
        pairs.append(("violations", _alert("；".join(map(labels.violation, violations)))))
    elif reply.get("household_id"):
        pairs.append(("violations", _zh(labels, "无", "none")))
    return _grid(labels, pairs)


def subscription_view(subscription: Row, labels: Labels) -> RenderableType:
    """`notify subscribe`: the subscription as stored; an SMS number is shown masked."""
    address = str(subscription.get("address") or "")
    if subscription.get("channel") == "sms" and address:
        from fangpin_kit.masking import mask_phone

        address = mask_phone(address)
    else:
        address = _masked(address)
    kinds = subscription.get("event_kinds") or []
    return _grid(
        labels,
        [
            ("subscription_id", str(subscription.get("subscription_id") or "")),
            ("recipient", str(subscription.get("recipient_id") or "")),
            ("role", labels.code("notify_role", subscription.get("role"))),
            ("region", str(subscription.get("region") or "")),
            ("dept", labels.code("department", subscription.get("dept"))),
            ("channel", labels.code("channel", subscription.get("channel"))),
            ("address", address),
            (
                "event_kinds",
                labels.codes("notice_kind", kinds) or _zh(labels, "按角色默认", "role defaults"),
            ),
            ("locale", str(subscription.get("locale") or "")),
            ("active", labels.flag(subscription.get("active")) or _zh(labels, "否", "no")),
            ("created_at", labels.when(subscription.get("created_at"))),
            ("updated_at", labels.when(subscription.get("updated_at"))),
        ],
    )


def unsubscribe_view(reply: Row, labels: Labels) -> RenderableType:
    """`notify unsubscribe`: how many subscriptions ended."""
    removed = int(reply.get("removed") or 0)
    return Text(_zh(labels, f"已取消 {removed} 个订阅", f"{removed} subscription(s) removed"))


# ---------------------------------------------------------------- scale risk, elimination

_INDICATORS: Mapping[str, tuple[str, str]] = {
    "unresolved_share": ("未消除风险监测对象占比较高", "share of unresolved monitored households"),
    "low_mean_income": ("人均纯收入较低", "low mean per-capita income"),
    "warning_cluster": ("同类预警集中", "cluster of warnings of one kind"),
}


def _indicator_figure(indicator: Any, value: Any) -> str:
    """A share as a percentage, an income in yuan, a number of warnings as a count."""
    if value is None or value == "":
        return ""
    number = float(value)
    if indicator == "unresolved_share":
        return f"{number:.1%}"
    if indicator == "low_mean_income":
        return _money(number)
    return f"{number:,.0f}"


def scale_risk_table(alerts: Sequence[Row], labels: Labels) -> RenderableType:
    """`screening scale-risk`: the scale-risk alerts (规模性返贫风险), newest first."""
    columns = (
        "alert_id", "village", "indicator", "warning_kind", "value", "limit",
        "opened_on", "cleared_on", "ruleset",
    )  # fmt: skip
    table = _table(labels, columns)
    table.columns[2].no_wrap = True  # the indicator's name
    for alert in alerts:
        indicator = alert.get("indicator")
        names = _INDICATORS.get(str(indicator))
        cleared = str(alert.get("cleared_on") or "")
        table.add_row(
            str(alert.get("alert_id") or ""),
            str(alert.get("village") or ""),
            (names[0] if labels.lang == "zh" else names[1]) if names else str(indicator or ""),
            labels.code("warning_kind", alert.get("warning_kind")),
            _indicator_figure(indicator, alert.get("value")),
            _indicator_figure(indicator, alert.get("limit")),
            str(alert.get("opened_on") or ""),
            cleared or _alert(_zh(labels, "持续中", "still holds")),
            str(alert.get("ruleset") or ""),
        )
    return _count(table, labels, len(alerts))


_CHECK_STATUS: Mapping[str, tuple[str, str]] = {
    "eligible": ("符合风险消除条件，可提名", "eligible: may be nominated"),
    "not_yet": ("暂不符合风险消除条件", "not yet"),
    "held": ("标注不消除（兜底保障）", "held (safety net, not eliminated)"),
    "eliminated": ("风险已消除", "eliminated"),
}


def _listed(labels: Labels, kind: str, codes: Any) -> str:
    return labels.codes(kind, codes) or _zh(labels, "无", "none")


def _elimination_conditions(line: Row, labels: Labels) -> list[tuple[str, bool, str]]:
    """Each condition of 风险消除 (DOMAIN.md section 4): its name, whether met, its figures."""
    values = line.get("values") or {}
    failing = set(line.get("failing") or [])
    months, required = values.get("stable_months"), values.get("stable_months_required")
    threshold = _money(values.get("threshold"))
    if labels.lang == "zh":
        stable = f"连续 {months} 个月高于监测范围 {threshold} 元（须 {required} 个月）"
        scope = "仍在监测范围内" if values.get("in_scope") else "已不在监测范围内"
        remaining = f"仍存在：{_listed(labels, 'risk_type', values.get('remaining_risks'))}"
        remaining += f"；已落实措施 {values.get('measures_implemented', 0)} 项"
    else:
        stable = f"{months} month(s) above {threshold} (needs {required})"
        scope = "in scope" if values.get("in_scope") else "out of scope"
        remaining = f"remaining: {_listed(labels, 'risk_type', values.get('remaining_risks'))}"
        remaining += f"; measures implemented {values.get('measures_implemented', 0)}"
    return [
        ("income_not_stable", "income_not_stable" not in failing, stable),
        ("still_in_scope", "still_in_scope" not in failing, scope),
        (
            "guarantees_not_consolidated",
            "guarantees_not_consolidated" not in failing,
            _listed(labels, "referral", values.get("failed_guarantees")),
        ),
        ("risks_remain", "risks_remain" not in failing, remaining),
        (
            "new_risks",
            "new_risks" not in failing,
            _listed(labels, "risk_type", values.get("new_risks")),
        ),
    ]


_CONDITION_NAMES: Mapping[str, tuple[str, str]] = {
    "income_not_stable": ("收入持续稳定高于监测范围", "income stable above the threshold"),
    "still_in_scope": ("不在监测范围内", "out of the monitoring scope"),
    "guarantees_not_consolidated": ("三保障和饮水安全持续巩固", "guarantees consolidated"),
    "risks_remain": ("已识别风险已消除", "identified risks removed"),
    "new_risks": ("无新增返贫致贫风险", "no new risk"),
}


def elimination_view(lines: Sequence[Row], labels: Labels) -> RenderableType:
    """`elimination check`: per household the result, each condition 满足/不满足 with its
    figures; for an eliminated household whether the risk returned (回退)."""
    met, unmet = _zh(labels, "满足", "met"), _zh(labels, "不满足", "not met")
    parts: list[RenderableType] = []
    for line in lines:
        if "error" in line:
            parts.append(
                _grid(
                    labels,
                    [
                        ("household", _who(labels, line.get("household_id"))),
                        ("error", _alert(str(line["error"]))),
                    ],
                )
            )
            continue
        status = str(line.get("status") or "")
        names = _CHECK_STATUS.get(status)
        result = (names[0] if labels.lang == "zh" else names[1]) if names else status
        values = line.get("values") or {}
        pairs: list[tuple[str, RenderableType | str]] = [
            ("household", _who(labels, line.get("household_id"))),
            ("as_of", str(line.get("as_of") or "")),
            ("result", _alert(result) if status == "not_yet" else result),
            ("mode", labels.code("elimination_mode", line.get("mode"))),
            ("monitoring_status", labels.code("register_status", line.get("monitoring_status"))),
            ("identified_risks", labels.codes("risk_type", line.get("identified_risks"))),
            ("eliminated_on", str(line.get("eliminated_on") or "")),
            ("ruleset", str(line.get("ruleset") or "")),
        ]
        income = "；".join(
            f"{q.get('quarter', '')} {_money(q.get('per_capita', 0.0))}"
            for q in line.get("income") or []
        )
        pairs.append(("income", income))
        if status == "eliminated":
            returned = line.get("rollback")
            reasons = labels.codes("rollback_reason", line.get("rollback_reasons"))
            shown = _zh(labels, "是：", "yes: ") + reasons if returned else _zh(labels, "否", "no")
            pairs.append(("rollback", _alert(shown) if returned else shown))
            quarters = "、".join(values.get("quarters_below") or [])
            if quarters:
                pairs.append(("details", _zh(labels, "低于监测范围的季度：", "below: ") + quarters))
        parts.append(_grid(labels, pairs))
        if status in ("eligible", "not_yet"):
            table = _table(labels, ("condition", "met", "values"))
            for code, ok, figures in _elimination_conditions(line, labels):
                name = _CONDITION_NAMES[code][0 if labels.lang == "zh" else 1]
                table.add_row(name, met if ok else _alert(unmet), figures)
            parts.append(table)
    return Group(*parts)


# ------------------------------------------------------------------------- dead letters


def dlq_table(events: Sequence[Row], labels: Labels) -> RenderableType:
    """`ops dlq`: dead letters (CloudEvents whose data is a `DeadLetter`), oldest first."""
    columns = ("service", "subject", "reason", "failed_at", "deliveries")
    table = _table(labels, columns)
    table.columns[1].no_wrap = True  # a subject is one word
    for event in events:
        letter = event.get("data") if isinstance(event.get("data"), Mapping) else {}
        table.add_row(
            labels.code("service", letter.get("service")),
            str(letter.get("original_subject") or ""),
            _masked(letter.get("reason")),
            labels.when(letter.get("failed_at") or event.get("time")),
            str(letter.get("deliveries") or ""),
        )
    return _count(table, labels, len(events))


# ---------------------------------------------------------------------------- households

_MEMBER_CODES: Mapping[str, str] = {
    "relation": "relation",
    "labor_capacity": "labor_capacity",
    "employment": "employment",
    "illness": "illness",
    "school_stage": "school_stage",
}


def household_view(record: Row, labels: Labels) -> RenderableType:
    """`households show`: a household file (户档案): its members with ID numbers masked, and its
    income and expense items in yuan."""
    from fangpin_contracts.household_columns import column_of_path
    from fangpin_kit.masking import mask_id_number

    region = record.get("region") if isinstance(record.get("region"), Mapping) else {}
    members = record.get("members") or []
    head = next((m for m in members if m.get("relation") == "head"), members[0] if members else {})
    events = "；".join(
        f"{labels.code('event_kind', e.get('kind'))} {e.get('date', '')}"
        + (f" {_money(e['loss'])}" if e.get("loss") is not None else "")
        for e in record.get("events") or []
    )
    no = _zh(labels, "否", "no")
    grid = _grid(
        labels,
        [
            ("household_id", str(record.get("household_id") or "")),
            ("name", str(head.get("name") or "")),
            ("village", str(region.get("village") or "")),
            ("member_count", str(len(members))),
            ("safety_net", labels.code("safety_net", record.get("safety_net"))),
            ("formerly_poor", labels.flag(record.get("formerly_poor"))),
            ("housing_safe", labels.flag(record.get("housing_safe", True)) or _alert(no)),
            (
                "drinking_water_safe",
                labels.flag(record.get("drinking_water_safe", True)) or _alert(no),
            ),
            ("events", events),
        ],
    )
    coded = [name for name in _MEMBER_CODES if name != "relation"]
    people = _table(labels, ("name", "id_number", "relation", "birth_date", *coded))
    people.title = _zh(labels, "家庭成员", "members")
    for member in members:
        people.add_row(
            str(member.get("name") or ""),
            mask_id_number(str(member.get("id_number") or "")),
            labels.code("relation", member.get("relation")),
            str(member.get("birth_date") or ""),
            *[labels.code(_MEMBER_CODES[name], member.get(name)) for name in coded],
        )
    money = _table(labels, ("item", "amount"))
    money.title = _zh(labels, "收入和支出（近 12 个月）", "income and expenses (12 months)")
    money.columns[1].justify = "right"
    for part in ("income", "expenses"):
        items = record.get(part) if isinstance(record.get(part), Mapping) else {}
        for key, amount in items.items():
            column = column_of_path(f"{part}.{key}")
            name = column.zh if column and labels.lang == "zh" else f"{part}.{key}"
            money.add_row(name, _money(amount))
    return Group(grid, people, money)
