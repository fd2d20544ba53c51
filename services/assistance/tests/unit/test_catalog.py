"""Measure catalog: the baseline as data, county extensions merged with clear errors."""

import textwrap
from typing import Any

import pytest
import yaml

from fangpin_assistance.domain.catalog import (
    Catalog,
    CatalogError,
    CatalogSource,
    LaborCondition,
    Proposal,
    baseline_source,
    load_catalog,
)
from fangpin_assistance.domain.codes import Department, Referral, RiskType, TermKind

DOMAIN_MEASURE_TYPES = {
    "industry": {Department.AGRICULTURE},
    "employment": {Department.HRSS},
    "finance": {Department.FINANCE},
    "public_post": {Department.HRSS},
    "health": {Department.MEDICAL_INSURANCE, Department.HEALTH},
    "compulsory_education": {Department.EDUCATION},
    "education": {Department.EDUCATION},
    "safety_net": {Department.CIVIL_AFFAIRS, Department.DISABLED_PERSONS},
    "housing": {Department.HOUSING},
    "drinking_water": {Department.WATER},
    "social": {Department.COMMERCE_FEDERATION},
    "relocation": {Department.DEVELOPMENT_REFORM},
    "living_conditions": {Department.AGRICULTURE},
    "infrastructure": {Department.TRANSPORT, Department.DEVELOPMENT_REFORM},
}


def extend(text: str, name: str = "counties/652827/measures.yaml") -> Catalog:
    return load_catalog(extensions=[CatalogSource(name, textwrap.dedent(text))])


def test_baseline_has_the_fourteen_domain_measure_types_with_their_lead_departments(
    catalog: Catalog,
) -> None:
    assert {
        code: set(t.lead_departments) for code, t in catalog.measure_types.items()
    } == DOMAIN_MEASURE_TYPES


def test_only_industry_employment_finance_and_public_post_are_developmental_types(
    catalog: Catalog,
) -> None:
    developmental = {code for code, t in catalog.measure_types.items() if t.developmental}
    assert developmental == {"industry", "employment", "finance", "public_post"}
    assert {code for code, t in catalog.measure_types.items() if t.safety_net} == {"safety_net"}


def test_every_sub_measure_goes_to_one_of_its_types_lead_departments(catalog: Catalog) -> None:
    for measure_type in catalog.measure_types.values():
        assert measure_type.sub_measures, measure_type.code
        for sub in measure_type.sub_measures.values():
            assert sub.department in measure_type.lead_departments, sub.key


@pytest.mark.parametrize(
    ("key", "kind", "department"),
    [
        ("finance.microcredit", TermKind.CONTRACT_END, Department.FINANCE),
        ("public_post.village_public_post", TermKind.AGREEMENT_END, Department.HRSS),
        ("education.rain_dew", TermKind.SCHOOL_STAGE_END, Department.EDUCATION),
        ("safety_net.dibao", TermKind.NONE, Department.CIVIL_AFFAIRS),
        ("safety_net.disability_allowance", TermKind.NONE, Department.DISABLED_PERSONS),
        ("health.family_doctor", TermKind.FIXED_MONTHS, Department.HEALTH),
    ],
)
def test_named_sub_measures_carry_their_term_kind_and_department(
    catalog: Catalog, key: str, kind: TermKind, department: Department
) -> None:
    sub = catalog.sub_measure(key)
    assert sub.term.kind is kind
    assert sub.department is department


def test_a_sub_measure_can_override_its_types_developmental_flag(catalog: Catalog) -> None:
    assert catalog.sub_measure("industry.industry_subsidy").developmental
    assert not catalog.sub_measure("industry.asset_income_share").developmental


@pytest.mark.parametrize(
    ("risk", "accepted"),
    [
        (RiskType.ILLNESS, {"health", "social", "safety_net"}),
        (RiskType.EDUCATION, {"compulsory_education", "education", "social"}),
        (RiskType.DISABILITY, {"safety_net", "social"}),
        (RiskType.HOUSING, {"housing", "relocation"}),
        (RiskType.DRINKING_WATER, {"drinking_water"}),
    ],
)
def test_domain_consistency_checks_are_the_accepted_measure_types(
    catalog: Catalog, risk: RiskType, accepted: set[str]
) -> None:
    assert catalog.risks[risk].accepted == frozenset(accepted)


def test_every_risk_type_and_guarantee_has_a_coverage_rule(catalog: Catalog) -> None:
    assert set(catalog.risks) == set(RiskType)
    assert set(catalog.guarantees) == set(Referral)
    assert catalog.risks[RiskType.OTHER].accepts("relocation")  # "*": any measure type


def test_county_extension_adds_a_measure_type_and_its_coverage() -> None:
    merged = extend(
        """
        measure_types:
          tea_cooperative:
            name_zh: 茶叶合作社带动
            lead_departments: [agriculture]
            developmental: true
            safety_net: false
            sub_measures:
              dividend: {name_zh: 入股分红, department: agriculture, term: {months: 24}}
        risks:
          industry_failure:
            accepted: [tea_cooperative]
            propose:
              - {measure: tea_cooperative.dividend, when: labor}
        """
    )
    assert merged.sub_measure("tea_cooperative.dividend").term.months == 24
    rule = merged.risks[RiskType.INDUSTRY_FAILURE]
    assert rule.accepts("tea_cooperative") and rule.accepts("industry")
    assert rule.proposals[0] == Proposal("tea_cooperative.dividend", LaborCondition.LABOR)
    assert merged.sources == ("catalog/measures.yaml", "counties/652827/measures.yaml")


def test_county_extension_adds_sub_measures_and_lead_departments_to_a_baseline_type() -> None:
    merged = extend(
        """
        measure_types:
          social:
            lead_departments: [other]
            sub_measures:
              east_west_pairing: {name_zh: 东西部协作, department: other, term: none}
        """
    )
    social = merged.measure_types["social"]
    assert social.lead_departments == (Department.COMMERCE_FEDERATION, Department.OTHER)
    assert "charity_aid" in social.sub_measures
    assert merged.sub_measure("social.east_west_pairing").department is Department.OTHER


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        (
            "measure_types: {finance: {sub_measures: {microcredit: "
            "{name_zh: x, department: finance, term: none}}}}",
            "measure_types.finance.sub_measures.microcredit",
            "already defined",
        ),
        (
            "measure_types: {finance: {developmental: false}}",
            "measure_types.finance.developmental",
            "can only gain",
        ),
        (
            "measure_types: {housing: {sub_measures: {repair: "
            "{name_zh: x, department: water, term: none}}}}",
            "measure_types.housing.sub_measures.repair.department",
            "not a lead department of housing",
        ),
        (
            "measure_types: {housing: {lead_departments: [housing_bureau]}}",
            "measure_types.housing.lead_departments[0]",
            "unknown code 'housing_bureau'",
        ),
        (
            "measure_types: {housing: {sub_measures: {repair: "
            "{name_zh: x, department: housing, term: forever}}}}",
            "measure_types.housing.sub_measures.repair.term",
            "unknown code 'forever'",
        ),
        ("risks: {poverty: {accepted: [social]}}", "risks.poverty", "unknown code"),
        (
            "risks: {illness: {propose: [{measure: finance.microcredit}]}}",
            "risks.illness.propose[0].measure",
            "does not cover illness",
        ),
        (
            "risks: {illness: {propose: [{measure: health.dentist}]}}",
            "risks.illness.propose[0].measure",
            "unknown measure 'health.dentist'",
        ),
        (
            "risks: {illness: {accepted: [wellbeing]}}",
            "risks.illness.accepted[0]",
            "unknown measure type 'wellbeing'",
        ),
        (
            "defaults: {developmental: {full: safety_net.dibao}}",
            "defaults.developmental.full",
            "not developmental",
        ),
        ("colour: blue", "<document>.colour", "unknown key"),
        ("schema: 2", "schema", "unsupported version"),
        ("measure_types: [a, b", "<document>", "not valid YAML"),
    ],
)
def test_bad_extension_fails_naming_file_key_and_reason(text: str, path: str, reason: str) -> None:
    with pytest.raises(CatalogError) as failure:
        extend(text, name="county.yaml")
    assert failure.value.source == "county.yaml"
    assert failure.value.path == path
    assert reason in failure.value.reason
    assert str(failure.value).startswith(f"county.yaml: {path}: ")


def baseline_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(baseline_source().text)
    return document


def test_baseline_missing_a_risk_type_is_rejected() -> None:
    document = baseline_document()
    del document["risks"]["drinking_water"]
    text = yaml.safe_dump(document, allow_unicode=True)
    with pytest.raises(CatalogError, match=r"risks\.drinking_water: missing"):
        load_catalog(CatalogSource("base.yaml", text))


def test_a_risk_without_a_proposal_for_no_labor_households_is_rejected() -> None:
    document = baseline_document()
    document["risks"]["industry_failure"]["propose"] = [
        {"measure": "industry.industry_subsidy", "when": "labor"}
    ]
    text = yaml.safe_dump(document, allow_unicode=True)
    with pytest.raises(CatalogError, match=r"risks\.industry_failure: no proposal .* no_labor"):
        load_catalog(CatalogSource("base.yaml", text))
