"""`/metrics` (Prometheus text format) and `/readyz`."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.http_helpers import url
from tests.support.server import Server, until


def samples(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = httpx.get(server.base_url + "/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[s.name, tuple(sorted(s.labels.items()))] = s.value
    return out


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_statuses_and_ledger_are_counted(server: Server) -> None:
    portal = server.new_portal()
    before = samples(server)
    with server.client(portal.token) as http:
        for _ in range(3):
            assert http.get(url("v4", "definitions")).status_code == 200
        assert http.get(url("v4", "statuses/x@example.com")).status_code == 400
        r = http.post(
            url("v4", "statuses/batch/unsubscribe-all"),
            params={"channel": "EMAIL"},
            json={"inputs": ["m1@example.com", "m2@example.com"]},
        )
        assert r.status_code == 200
    after = samples(server)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("commpref_http_requests_total", operation="list_definitions", status="200") == 3
    assert grew("commpref_http_requests_total", operation="get_statuses", status="400") == 1
    assert (
        grew(
            "commpref_http_request_duration_seconds_count",
            operation="list_definitions",
            status="200",
        )
        == 3
    )
    inf = grew(
        "commpref_http_request_duration_seconds_bucket",
        operation="batch_unsubscribe_all",
        status="200",
        le="+Inf",
    )
    assert inf == 1
    # two subscribers opted out: two ledger entries, 2 × (3 types + 1 wide) changes
    assert grew("commpref_ledger_events_appended_total") == 2
    assert grew("commpref_status_changes_total", kind="SUBSCRIPTION") == 6
    assert grew("commpref_status_changes_total", kind="WIDE") == 2
    assert value(after, "commpref_db_pool_connections", state="max") >= 1
    assert ("commpref_webhook_backlog", ()) in after
    assert value(after, "commpref_http_requests_in_progress", state="active") == 0


def test_the_mail_backlog_counts_waiting_confirmation_emails(server: Server) -> None:
    # This module's server has no SMTP relay, so a queued email waits in the outbox.
    before = samples(server)
    assert ("commpref_mail_backlog", ()) in before
    assert value(before, "commpref_mail_backlog") == 0
    portal = server.new_portal(double_opt_in=True, mail_from="news@brand.example")
    with server.client(portal.token) as http:
        body = {"email": "waits@example.com", "subscriptionIds": portal.definitions[:1]}
        r = http.post("/commpref/v1/signups", json=body)
        assert r.status_code == 202 and r.json()["status"] == "PENDING_CONFIRMATION", r.text
    # the mail worker refreshes the gauge every few seconds
    until(lambda: value(samples(server), "commpref_mail_backlog") != 0, "the mail backlog")
    assert value(samples(server), "commpref_mail_backlog") == 1


def test_unknown_routes_are_counted_apart(server: Server) -> None:
    before = samples(server)
    assert httpx.get(server.base_url + "/nope/../etc").status_code == 404
    after = samples(server)
    key = {"operation": "unmatched", "status": "404"}
    assert (
        value(after, "commpref_http_requests_total", **key)
        - value(before, "commpref_http_requests_total", **key)
        == 1
    )


def test_several_workers_report_one_sum(tmp_path: Path) -> None:
    server = Server(
        f"sqlite:///{tmp_path}/workers.db", tmp_path / "server.log", extra_args=("--workers", "2")
    )
    server.start()
    try:
        portal = server.new_portal()
        with server.client(portal.token) as http:
            for _ in range(40):
                # a fresh connection each time, so both workers get some of them
                r = httpx.get(
                    server.base_url + url("v4", "definitions"),
                    headers={"Authorization": f"Bearer {portal.token}"},
                )
                assert r.status_code == 200
            assert http.get(url("v4", "definitions")).status_code == 200
        found = [samples(server) for _ in range(4)]  # whichever worker answers
    finally:
        server.stop()
    for f in found:
        assert (
            value(f, "commpref_http_requests_total", operation="list_definitions", status="200")
            == 41
        )
    text = (tmp_path / "server.log").read_text()
    assert len(set(re.findall(r"Started server process \[(\d+)\]", text))) == 2
