"""Webhooks end to end, on each backend: a real server's delivery worker posting to a receiver
this test runs on 127.0.0.1, which fails the first attempts. Checks retries, order per
subscriber, signatures, delivery state, the give-up after the retry window, and replay."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from commpref.domain.webhooks import verify
from tests.conftest import BACKENDS
from tests.support.server import Portal, Server, started_server, until

V1 = "/commpref/v1"
V4 = "/communication-preferences/v4"
WINDOW_MS = 4000  # the retry window of these servers: long enough for a few retries


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local webhook endpoint; `answer(request body, attempt header)` picks the status."""

    answer: Callable[[Any, int], int] = lambda payload, attempt: 204
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status = receiver.answer(json.loads(body), int(self.headers["x-commpref-attempt"]))
                with receiver.lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.received.append(Received(headers, body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/hooks/commpref"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()

    def delivered(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if 200 <= r.answered < 300]


@pytest.fixture(scope="module", params=BACKENDS)
def fast_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server whose delivery worker polls often and retries after 50, 100, 200 ms…"""
    env = {
        "COMMPREF_JOB_POLL_MS": "20",
        "COMMPREF_WEBHOOK_BACKOFF_INITIAL_MS": "50",
        "COMMPREF_WEBHOOK_BACKOFF_MAX_MS": "400",
        "COMMPREF_WEBHOOK_RETRY_WINDOW_MS": str(WINDOW_MS),
        "COMMPREF_WEBHOOK_TIMEOUT_MS": "2000",
    }
    tmp: Path = tmp_path_factory.mktemp("hooks")
    with started_server(request.param, tmp, env=env) as srv:
        yield srv


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


def deliveries(client: httpx.Client, hook_id: int) -> list[Any]:
    r = client.get(f"{V1}/webhooks/{hook_id}/deliveries", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def test_deliveries_retry_keep_order_per_subscriber_and_are_signed(
    fast_server: Server, receiver: Receiver
) -> None:
    portal: Portal = fast_server.new_portal()
    d1 = portal.definitions[0]
    a, b = "a@example.com", "b@example.com"
    # The receiver fails a's first delivery three times (500, then 503, then 500).
    receiver.answer = lambda payload, attempt: (
        (500 if attempt != 2 else 503)
        if payload["events"][0]["subscriberIdString"] == a
        and attempt <= 3
        and payload["events"][0]["newStatus"] == "UNSUBSCRIBED"
        and payload["events"][0]["oldStatus"] == "NOT_SPECIFIED"
        else 204
    )
    with fast_server.client(portal.token) as c:
        created = c.post(f"{V1}/webhooks", json={"url": receiver.url})
        assert created.status_code == 201, created.text
        hook = created.json()
        secret = hook["secret"]
        assert secret.startswith("whsec_") and hook["active"] is True
        assert "secret" not in c.get(f"{V1}/webhooks/{hook['id']}").json()

        cids = []
        for path, body, params in [
            (f"statuses/{a}/unsubscribe-all", None, {"channel": "EMAIL"}),
            (
                f"statuses/{b}",
                {"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": d1},
                None,
            ),
            (
                f"statuses/{a}",
                {"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": d1},
                None,
            ),
            (
                f"statuses/{a}",
                {"channel": "EMAIL", "statusState": "UNSUBSCRIBED", "subscriptionId": d1},
                None,
            ),
        ]:
            r = c.post(f"{V4}/{path}", json=body, params=params)
            assert r.status_code == 200, r.text
            cids.append(r.headers["x-hubspot-correlation-id"])

        until(
            lambda: (
                {d["state"] for d in deliveries(c, hook["id"])} == {"DELIVERED"}
                and len(deliveries(c, hook["id"])) == 4
            ),
            "every delivery to be DELIVERED",
        )
        state = deliveries(c, hook["id"])
        feed = c.get(f"{V1}/events").json()["results"]

    got = receiver.delivered()
    # At least once: every consent event of the ledger arrived, with the ledger's own ids.
    sent_ids = [e["id"] for r in got for e in r.payload["events"]]
    assert sorted(set(sent_ids)) == sorted(e["id"] for e in feed)
    # In order per subscriber: a's three entries arrived in ledger (correlation) order, the
    # first only after its three failed attempts.
    a_cids = [
        r.payload["events"][0]["correlationId"]
        for r in got
        if r.payload["events"][0]["subscriberIdString"] == a
    ]
    assert a_cids == [cids[0], cids[2], cids[3]]
    failed = [r for r in receiver.received if r.answered >= 500]
    assert [int(r.headers["x-commpref-attempt"]) for r in failed] == [1, 2, 3]
    first = next(r for r in got if r.payload["events"][0]["correlationId"] == cids[0])
    assert first.headers["x-commpref-attempt"] == "4"
    assert len({r.headers["x-commpref-delivery"] for r in [*failed, first]}) == 1
    # Signed: HMAC-SHA256 of "{timestamp}.{body}" under the secret shown at creation.
    for r in receiver.received:
        ts = int(r.headers["x-commpref-timestamp"])
        assert verify(secret, ts, r.body, r.headers["x-commpref-signature"])
        assert not verify("whsec_wrong" + secret, ts, r.body, r.headers["x-commpref-signature"])
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-commpref-webhook"] == str(hook["id"])
        assert r.payload["webhookId"] == hook["id"]
    # The delivery state shows the retries.
    by_entry = {d["ledgerEntryId"]: d for d in state}
    first_state = by_entry[int(first.payload["events"][0]["id"].split(".")[0])]
    assert (
        first_state["attempts"],
        first_state["lastStatusCode"],
        first_state["lastError"],
        first_state["subscriberIdString"],
    ) == (4, 204, None, a)
    assert sorted(d["attempts"] for d in state) == [1, 1, 1, 4]


def test_filters_skip_and_the_window_fails_then_replay_delivers(
    fast_server: Server, receiver: Receiver
) -> None:
    portal = fast_server.new_portal()
    d1 = portal.definitions[0]
    receiver.answer = lambda payload, attempt: 500  # down for now
    with fast_server.client(portal.token) as c:
        hook = c.post(
            f"{V1}/webhooks",
            json={
                "url": receiver.url,
                "eventFilter": {"statuses": ["UNSUBSCRIBED"]},
                "secret": "whsec_chosen_by_the_receiver",
            },
        ).json()
        assert hook["eventFilter"] == {
            "statuses": ["UNSUBSCRIBED"],
            "subscriptionIds": None,
            "includeWide": True,
        }
        c.post(
            f"{V4}/statuses/s@example.com",
            json={"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": d1},
        )
        c.post(f"{V4}/statuses/u@example.com/unsubscribe-all", params={"channel": "EMAIL"})
        until(
            lambda: sorted(d["state"] for d in deliveries(c, hook["id"])) == ["FAILED", "SKIPPED"],
            "the window to run out",
        )
        failed, skipped = sorted(deliveries(c, hook["id"]), key=lambda d: d["state"])
        assert skipped["subscriberIdString"] == "s@example.com" and skipped["attempts"] == 0
        assert failed["attempts"] >= 3 and failed["lastError"] == "HTTP 500"
        assert failed["nextAttemptAt"] is None
        only_failed = c.get(
            f"{V1}/webhooks/{hook['id']}/deliveries", params={"state": "FAILED"}
        ).json()["results"]
        assert [d["id"] for d in only_failed] == [failed["id"]]

        receiver.answer = lambda payload, attempt: 200  # back up
        replay = c.post(f"{V1}/webhooks/{hook['id']}/replay", json={"deliveryIds": [failed["id"]]})
        assert (replay.status_code, replay.json()) == (202, {"queued": 1})
        until(
            lambda: any(d["state"] == "DELIVERED" for d in deliveries(c, hook["id"])),
            "the retried delivery",
        )
        # Replaying the ledger from the start sends its entries again (as new deliveries).
        again = c.post(f"{V1}/webhooks/{hook['id']}/replay", json={})
        assert again.status_code == 400
        queued = c.post(
            f"{V1}/webhooks/{hook['id']}/replay",
            json={"since": None}
            | {"since": c.get(f"{V1}/events", params={"limit": 1}).json()["cursor"]},
        ).json()
        assert queued == {"queued": 2}
        until(
            lambda: (
                len(deliveries(c, hook["id"])) == 4
                and all(d["state"] != "PENDING" for d in deliveries(c, hook["id"]))
            ),
            "the replayed deliveries",
        )

        # Pausing stops deliveries; deleting removes the subscription.
        paused = c.patch(f"{V1}/webhooks/{hook['id']}", json={"active": False}).json()
        assert paused["active"] is False and "secret" not in paused
        rotated = c.patch(f"{V1}/webhooks/{hook['id']}", json={"rotateSecret": True}).json()
        assert rotated["secret"].startswith("whsec_")
        assert c.delete(f"{V1}/webhooks/{hook['id']}").json() == {"status": "COMPLETE"}
        assert c.get(f"{V1}/webhooks/{hook['id']}").status_code == 404
    for r in receiver.delivered():
        ts = int(r.headers["x-commpref-timestamp"])
        assert verify("whsec_chosen_by_the_receiver", ts, r.body, r.headers["x-commpref-signature"])
        assert {e["newStatus"] for e in r.payload["events"]} == {"UNSUBSCRIBED"}


def test_webhook_input_is_checked(fast_server: Server) -> None:
    portal = fast_server.new_portal()
    with fast_server.client(portal.token) as c:
        for body in (
            {"url": "ftp://x"},
            {"url": "http://"},
            {"url": "http://h", "secret": "short"},
            {"url": "http://h", "eventFilter": {"statuses": ["MAYBE"]}},
        ):
            r = c.post(f"{V1}/webhooks", json=body)
            assert r.status_code == 400, (body, r.text)
        assert c.get(f"{V1}/webhooks").json() == {"results": []}
        assert c.patch(f"{V1}/webhooks/999999", json={"active": False}).status_code == 404
