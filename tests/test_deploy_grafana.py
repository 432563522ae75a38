"""deploy/grafana: the provisioned dashboard's queries parse as PromQL, use only metrics the worker exposes (or
recording rules from the rules file), and cover the panels operators need."""

from __future__ import annotations

import pytest
import yaml

from deploy_support import (DASHBOARD, GRAFANA_DATASOURCE, GRAFANA_PROVIDER, dashboard_exprs, family_of,
                            grafana_to_promql, load_json, load_yaml, metric_names_in, recording_names,
                            rule_groups, run, tool)
from worker.metrics import METRIC_NAMES


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return load_json(DASHBOARD)


def _panels(dashboard: dict) -> list[dict]:
    out = []
    for p in dashboard["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def test_dashboard_uses_the_provisioned_datasource_by_uid(dashboard):
    ds = load_yaml(GRAFANA_DATASOURCE)["datasources"]
    uids = {d["uid"] for d in ds if d["type"] == "prometheus"}
    assert len(uids) == 1
    for p in _panels(dashboard):
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] in uids, p["title"]
        for t in p["targets"]:
            assert t.get("datasource", p["datasource"])["uid"] in uids, p["title"]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            assert var["datasource"]["uid"] in uids


def test_dashboard_provider_is_well_formed():
    prov = load_yaml(GRAFANA_PROVIDER)
    assert prov["apiVersion"] == 1
    (provider,) = prov["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")


def test_dashboard_structure(dashboard):
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in _panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in _panels(dashboard):
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]


def test_dashboard_metrics_exist_in_the_worker_or_the_rules(dashboard):
    allowed = set(METRIC_NAMES) | set(recording_names(rule_groups())) | {"up"}
    exprs = dashboard_exprs(dashboard) + [
        ("variable " + v["name"], v["definition"]) for v in dashboard["templating"]["list"] if v.get("definition")]
    assert exprs
    for title, expr in exprs:
        used = {family_of(n, METRIC_NAMES) for n in metric_names_in(expr)}
        assert used - allowed == set(), f"{title}: unknown metrics {used - allowed}"


def test_dashboard_covers_the_required_views(dashboard):
    exprs = [e for _, e in dashboard_exprs(dashboard)]
    used = set().union(*(metric_names_in(e) for e in exprs))
    families = {family_of(n, METRIC_NAMES) for n in used}
    for family in ("tension_worker_records_consumed_total", "tension_worker_articles_processed_total",
                   "tension_worker_end_to_end_latency_seconds", "tension_worker_batch_inference_seconds",
                   "tension_worker_consumer_lag", "tension_worker_dead_letters_total",
                   "job:tension_worker_alerts:rate5m", "job:tension_worker_signals:rate5m", "tension_worker_model_info"):
        assert family in families, family
    latency = [e for e in exprs if "end_to_end_latency_seconds_bucket" in e]
    for q in ("0.5", "0.95", "0.99"):
        assert any(f"histogram_quantile({q}," in e for e in latency), q
    assert any("by (outcome)" in e for e in exprs) and any("by (reason)" in e for e in exprs)
    assert any("by (level)" in e for e in exprs) and any("by (type)" in e for e in exprs)
    assert any("partition" in e for e in exprs if "consumer_lag" in e)


def test_dashboard_queries_parse_as_promql(dashboard, tmp_path):
    """promtool parses every query (Grafana's $variables replaced) by checking them as recording rules."""
    promtool = tool("promtool", apt_package="prometheus")
    rules = [{"record": f"dashboard:query:{i}", "expr": grafana_to_promql(e)}
             for i, (_, e) in enumerate(dashboard_exprs(dashboard))]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    res = run([promtool, "check", "rules", str(path)])
    assert res.returncode == 0, res.stdout + res.stderr


def test_batch_size_is_not_plotted_on_the_seconds_axis(dashboard):
    for panel in dashboard["panels"]:
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        for target in panel.get("targets", []):
            if "batch_size" in target.get("expr", "") and unit == "s":
                overrides = [o for o in panel["fieldConfig"].get("overrides", [])
                             if o["matcher"] == {"id": "byFrameRefID", "options": target["refId"]}]
                props = {p["id"]: p["value"] for o in overrides for p in o["properties"]}
                assert props.get("unit") == "none" and props.get("custom.axisPlacement") == "right", panel["title"]
