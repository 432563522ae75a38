"""deploy/prometheus: promtool check config / check rules / test rules, unit-test coverage of every rule, and
metric names that exist in worker.metrics.METRIC_NAMES."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy_support import (PROM_CONFIG, RULE_TESTS, RULES, alert_names, family_of, iter_rules, load_yaml,
                            metric_names_in, recording_names, rule_groups, run, tool)
from worker.metrics import METRIC_NAMES

EXPECTED_ALERTS = {"TensionWorkerDown", "TensionWorkerNoProgress", "TensionWorkerDeadLetterRateHigh",
                   "TensionWorkerInferenceSlow", "TensionHighAlertBurst", "TensionWorkerAbsent",
                   "TensionWorkerNotReady", "TensionWorkerLagAtMaxReplicas"}
EXPECTED_RECORDS = {"job:tension_worker_alerts:rate5m", "job:tension_worker_signals:rate5m"}


@pytest.fixture(scope="module")
def promtool() -> str:
    return tool("promtool", apt_package="prometheus")

README = Path(__file__).resolve().parent.parent / "README.md"


def test_promtool_check_config(promtool):
    res = run([promtool, "check", "config", str(PROM_CONFIG)])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 rule files found" in res.stdout  # the glob in rule_files finds the shipped rules


def test_promtool_check_rules(promtool):
    res = run([promtool, "check", "rules", str(RULES)])
    assert res.returncode == 0, res.stdout + res.stderr


def test_promtool_rule_unit_tests_pass(promtool):
    assert RULE_TESTS, "no rule unit tests in deploy/prometheus/tests"
    res = run([promtool, "test", "rules", *map(str, RULE_TESTS)])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


def test_expected_rules_exist():
    groups = rule_groups()
    assert set(alert_names(groups)) == EXPECTED_ALERTS
    assert set(recording_names(groups)) == EXPECTED_RECORDS


def test_every_alert_is_tested_firing_and_silent():
    fired: set[str] = set()
    silent: set[str] = set()
    recorded: set[str] = set()
    for path in RULE_TESTS:
        doc = load_yaml(path)
        assert any(RULES.resolve() == (path.parent / f).resolve() for f in doc["rule_files"]), path
        for case in doc["tests"]:
            for t in case.get("alert_rule_test", []):
                (fired if t.get("exp_alerts") else silent).add(t["alertname"])
            for t in case.get("promql_expr_test", []):
                recorded |= metric_names_in(t["expr"]) & EXPECTED_RECORDS
    names = set(alert_names(rule_groups()))
    assert names - fired == set(), f"alerts never shown firing: {names - fired}"
    assert names - silent == set(), f"alerts never shown silent: {names - silent}"
    assert EXPECTED_RECORDS <= recorded, f"recording rules not tested: {EXPECTED_RECORDS - recorded}"


def test_alerts_have_severity_summary_description_and_runbook():
    for rule in iter_rules(rule_groups()):
        if "alert" not in rule:
            continue
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        ann = rule["annotations"]
        for key in ("summary", "description"):
            assert ann.get(key, "").strip(), f"{rule['alert']}: no {key}"
        assert ann["runbook_url"].endswith("/README.md#alerts-and-what-to-do"), rule["alert"]
        assert "runbook" not in ann, f"{rule['alert']}: the standard annotation is runbook_url"
        assert f"| `{rule['alert']}` (" in README.read_text(), f"{rule['alert']}: not in the README's runbook table"
    assert "\n### Alerts and what to do\n" in README.read_text()  # the anchor runbook_url points at


def test_rules_use_only_metrics_the_worker_exposes():
    groups = rule_groups()
    allowed = set(METRIC_NAMES) | set(recording_names(groups))
    for rule in iter_rules(groups):
        used = {family_of(n, METRIC_NAMES) for n in metric_names_in(rule["expr"])}
        unknown = used - allowed
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: unknown metrics {unknown}"


def test_name_extraction_catches_a_renamed_metric():
    used = metric_names_in('rate(tension_worker_articles_total{job="tension-worker"}[5m])')
    assert {family_of(n, METRIC_NAMES) for n in used} - set(METRIC_NAMES) == {"tension_worker_articles_total"}
    used = metric_names_in('sum(rate(tension_worker_batch_inference_seconds_bucket[5m])) by (le)')
    assert {family_of(n, METRIC_NAMES) for n in used} == {"tension_worker_batch_inference_seconds"}
