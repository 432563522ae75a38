"""The chaos run's short part (scripts/chaos.py; the long run's figures are in the README): two workers in one
group, SIGKILLed twice while they work, and the broker restarted (S3 storage on a local moto server, so records
and offsets survive): every expected alert arrives, none is unexpected, and a duplicate (a record
redelivered after a kill) carries the same alert_id."""

import importlib.util

import pytest

from conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.chaos]


def test_sigkills_and_a_broker_restart_lose_no_alert_and_duplicates_share_their_id(tmp_path):
    spec = importlib.util.spec_from_file_location("chaos", REPO / "scripts" / "chaos.py")
    chaos = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chaos)
    with chaos.persistent_broker(tmp_path) as broker:
        figures = chaos.run_chaos(broker.bootstrap_servers, count=160, workers=2, kills=2, rolling=0, interval=4.0,
                                  folder=tmp_path, timeout_s=240, restart_broker=lambda: chaos.restart(broker),
                                  broker_restarts=1)
    assert figures["kills"] == 2 and figures["broker_restarts"] == 1 and figures["expected_alerts"] > 100
    assert figures["lost"] == 0 and figures["unexpected"] == 0 and figures["dead_letters"] == 0, figures
    assert figures["duplicates_with_another_alert_id"] == 0, figures
    assert figures["poison_pills"] <= figures["kills"] // 2, figures  # a pill takes two kills on one record alone
