"""What a worker measures: the counters, histograms and gauges of WorkerMetrics, the callbacks
hosts with their own exporter register, the measured channels, and a live `journeydsl worker`
whose /metrics, scraped over HTTP, shows every metric with the counts it really did."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message
from journeydsl.runtime.worker_metrics import (
    BUCKETS,
    METRICS,
    MetricSample,
    ObservedChannel,
    WorkerMetrics,
)
from tests.runtime.test_run_cli import jsonl, profile

ROOT = Path(__file__).resolve().parents[2]

PROBE = """\
journey metrics_probe version 1
uses events "events.yaml"
uses templates "templates.yaml"
timezone "Asia/Ho_Chi_Minh"
entry on card_issued
send sms activation_reminder transactional { round: 1 }
wait 1s
send email activation_reminder transactional { round: 2 }
"""


def _message(channel: str = "sms") -> Message:
    return Message("k-1", "c-1", channel, "t", "transactional", {}, "j", 1, "n", datetime.now(UTC))


class _Answer:
    def __init__(self, answer: DeliveryResult | BaseException) -> None:
        self.answer = answer

    def send(self, message: Message) -> DeliveryResult:
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def test_counters_histograms_and_gauges_keep_what_they_are_given() -> None:
    """inc adds per label set, observe counts in the right cumulative buckets, set keeps the
    last value; the snapshot is a copy."""
    m = WorkerMetrics()
    m.inc("deliveries", channel="sms", result="delivered")
    m.inc("deliveries", 2, channel="sms", result="delivered")
    m.inc("deliveries", channel="email", result="failed_permanent")
    m.observe("timer_lag_seconds", 0.004)
    m.observe("timer_lag_seconds", 2.0)
    m.set("leases_held", 7)
    m.set("leases_held", 5)
    assert m.counter("deliveries", channel="sms", result="delivered") == 3
    assert m.counter("deliveries", channel="email", result="failed_permanent") == 1
    assert m.counter("deliveries", channel="zns", result="delivered") == 0
    _, histograms, gauges = m.snapshot()
    lag = histograms[("timer_lag_seconds", ())]
    cumulative = dict(lag.cumulative())
    assert [cumulative[le] for le in ("0.0025", "0.005", "1.0", "2.5", "+Inf")] == [0, 1, 1, 2, 2]
    assert lag.count == 2
    assert lag.total == pytest.approx(2.004)
    assert gauges[("leases_held", ())] == 5
    m.observe("timer_lag_seconds", 1.0)
    assert histograms[("timer_lag_seconds", ())].count == 2  # (the snapshot did not move)
    assert len(BUCKETS) == len(lag.counts) - 1


def test_a_hosts_callback_gets_every_change_and_a_failing_one_is_dropped() -> None:
    """listen() callbacks get one sample per increment, observation and gauge change; one
    that raises is dropped, and the worker's counting goes on."""
    m = WorkerMetrics()
    seen: list[MetricSample] = []
    m.listen(seen.append)

    def broken(sample: MetricSample) -> None:
        raise RuntimeError("exporter down")

    m.listen(broken)
    m.inc("events")
    m.observe("event_lag_seconds", 0.5)
    m.set("leases_held", 3)
    m.set("leases_held", 3)  # (no change: no sample)
    assert [(s.name, s.kind, s.value) for s in seen] == [
        ("events", "counter", 1.0),
        ("event_lag_seconds", "histogram", 0.5),
        ("leases_held", "gauge", 3),
    ]
    assert m.counter("events") == 1
    assert broken not in m._listeners


def test_a_measured_channel_counts_each_answer_by_channel_and_result() -> None:
    """ObservedChannel passes the channel's answer (or exception) through and counts it:
    delivered and failed answers as such, a network error as failed_transient, anything else
    as error (and an error of kind channel)."""
    m = WorkerMetrics()
    ok = ObservedChannel("sms", _Answer(DeliveryResult(DeliveryStatus.DELIVERED)), m)
    assert ok.send(_message()).status is DeliveryStatus.DELIVERED
    no = ObservedChannel("sms", _Answer(DeliveryResult(DeliveryStatus.FAILED_PERMANENT)), m)
    no.send(_message())
    with pytest.raises(TimeoutError):
        ObservedChannel("zns", _Answer(TimeoutError("gateway")), m).send(_message("zns"))
    with pytest.raises(OSError, match="disk full"):
        ObservedChannel("zns", _Answer(OSError(28, "disk full")), m).send(_message("zns"))
    assert m.counter("deliveries", channel="sms", result="delivered") == 1
    assert m.counter("deliveries", channel="sms", result="failed_permanent") == 1
    assert m.counter("deliveries", channel="zns", result="failed_transient") == 1
    assert m.counter("deliveries", channel="zns", result="error") == 1
    assert m.counter("errors", kind="channel") == 1
    _, histograms, _ = m.snapshot()
    assert histograms[("delivery_seconds", (("channel", "sms"),))].count == 2


def test_an_observed_channel_reads_a_text_status_and_refuses_a_missing_answer() -> None:
    """ObservedChannel counts DeliveryResult("delivered") as delivered (and passes the enum
    member on), and a channel answering None as an error, raising the TypeError that says
    what to return rather than an AttributeError."""
    m = WorkerMetrics()
    text = ObservedChannel("sms", _Answer(DeliveryResult("delivered")), m)  # type: ignore[arg-type]
    assert text.send(_message()).status is DeliveryStatus.DELIVERED
    with pytest.raises(TypeError, match="returned None, not a DeliveryResult"):
        ObservedChannel("zns", _Answer(None), m).send(_message("zns"))  # type: ignore[arg-type]
    assert m.counter("deliveries", channel="sms", result="delivered") == 1
    assert m.counter("deliveries", channel="zns", result="error") == 1


def _scrape(base: str) -> dict[str, float]:
    """/metrics over HTTP, as ``{sample with labels: value}``."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as page:
        text = page.read().decode()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        found.setdefault(family.name, 0.0)
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            found[f"{s.name}{{{labels}}}"] = s.value
    return found


@pytest.mark.postgres
def test_a_live_worker_shows_every_metric_with_what_it_did(tmp_path: Path, pg_dsn: str) -> None:
    """A live `journeydsl worker --metrics-port 0` takes 5 events (and one bad line), sends an
    SMS each, fires a 1-second timer each and sends an email: /metrics, scraped over HTTP,
    shows every metric of METRICS, deliveries by channel and result equal to the actions
    file's, 5 timers due with their lag, 5 event lags, the leases held, no error."""
    for name in ("events.yaml", "templates.yaml"):
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    (tmp_path / "probe.journey").write_text(PROBE)
    customers = [f"c-{n}" for n in range(5)]
    rows = [profile(c, True, sms=True, email=True) for c in customers]
    profiles = jsonl(tmp_path / "p.jsonl", rows)
    at = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    events: list[Any] = [
        {
            "id": f"e-{c}",
            "customer_id": c,
            "type": "card_issued",
            "at": at,
            "data": {"card_id": "k", "product": "gold"},
        }
        for c in customers
    ]
    events.append("not an event")
    jsonl(tmp_path / "e.jsonl", events)
    actions = tmp_path / "a.jsonl"
    argv = [sys.executable, "-m", "journeydsl", "worker", str(tmp_path / "probe.journey")]
    argv += ["--db", pg_dsn, "--migrate", "--buckets", "4", "--actions", str(actions)]
    argv += ["--profiles", str(profiles), "--events", str(tmp_path / "e.jsonl")]
    argv += ["--metrics-port", "0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"metrics on (http://127\.0\.0\.1:\d+)/metrics", line)
        assert match, line
        p = "journeydsl_worker_"
        deadline = time.monotonic() + 120
        while True:
            got = _scrape(match.group(1))
            if got.get(f"{p}deliveries_total{{channel=email,result=delivered}}") == 5:
                break
            assert time.monotonic() < deadline, got
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    for name in METRICS:
        assert p + name in got, name
    sent = [json.loads(x) for x in actions.read_text().splitlines()]
    sms = sum(1 for a in sent if a.get("channel") == "sms")
    assert sms == 5
    assert got[f"{p}deliveries_total{{channel=sms,result=delivered}}"] == sms
    assert got[f"{p}delivery_seconds_count{{channel=sms}}"] == sms
    assert got[f"{p}events_total{{}}"] == 5
    assert got[f"{p}quarantined_total{{}}"] == 1
    assert got[f"{p}steps_total{{kind=event}}"] == 5
    assert got[f"{p}steps_total{{kind=timer}}"] == 5
    assert got[f"{p}timers_due_total{{}}"] == 5
    assert got[f"{p}timer_lag_seconds_count{{}}"] == 5
    assert got[f"{p}timer_lag_seconds_sum{{}}"] >= 0
    assert got[f"{p}event_lag_seconds_count{{}}"] == 5
    assert got[f"{p}event_lag_seconds_sum{{}}"] >= 5 * 5  # (each was dated 5 s back)
    assert got[f"{p}leases_held{{}}"] == 4
    assert not any(k.startswith(f"{p}errors_total{{kind=") and v for k, v in got.items())
