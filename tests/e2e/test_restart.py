"""Acknowledged writes survive SIGKILL, on every backend.

Each test runs its own server on its own database so the module-scoped server of the other
e2e tests is never killed. A reference model of docs/wire-contract.md §5.5/§5.7/§5.11 predicts every
response and the exact ledger; after each SIGKILL and restart every acknowledged write must
read back exactly, and the ledger must hold exactly one change per actual change.
"""

from __future__ import annotations

import calendar
import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from tests.support.server import Portal, Server

SUB, UNSUB, NONE = "SUBSCRIBED", "UNSUBSCRIBED", "NOT_SPECIFIED"
SOURCE = "Public status API"
V4_FAMILY = ["v4", "2026-03", "2025-09", "2026-09"]
LEGAL = ["CONSENT_WITH_NOTICE", "LEGITIMATE_INTEREST_CLIENT", "NON_GDPR", "PROCESS_AND_STORE"]


def epoch_ms(stamp: str) -> int:
    dt = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(dt.timetuple()) * 1000 + dt.microsecond // 1000


@dataclass
class Row:
    status: str
    timestamp: str
    legal_basis: str | None = None
    explanation: str | None = None


Change = tuple[str, str, int, str, str, int]  # email, kind, target, old, new, at (ms)


@dataclass
class Model:
    """What commpref must have stored: docs/wire-contract.md §5.5, §5.7 and §5.11,
    portal without brands."""

    definitions: list[int]
    types: dict[str, dict[int, Row]] = field(default_factory=lambda: defaultdict(dict))
    wide: dict[str, Row] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)

    def current(self, email: str, d: int) -> str:
        row = self.types[email].get(d)
        return row.status if row else NONE

    def opted_out(self, email: str) -> bool:
        w = self.wide.get(email)
        return w is not None and w.status == UNSUB

    def set_type(
        self, email: str, d: int, new: str, ts: str, lb: str | None, lbe: str | None
    ) -> None:
        self.changes.append((email, "SUBSCRIPTION", d, self.current(email, d), new, epoch_ms(ts)))
        self.types[email][d] = Row(new, ts, lb, lbe)

    def _set_wide(self, email: str, new: str, ts: str) -> None:
        old = self.wide[email].status if email in self.wide else NONE
        self.changes.append((email, "WIDE", 0, old, new, epoch_ms(ts)))
        self.wide[email] = Row(new, ts)

    def write(
        self, email: str, d: int, target: str, ts: str, lb: str | None, lbe: str | None
    ) -> str:
        cur = self.current(email, d)
        if target == SUB:
            opted = self.opted_out(email)
            if cur == UNSUB or opted:
                self.set_type(email, d, SUB, ts, lb, lbe)
                if opted:
                    self._set_wide(email, SUB, ts)
                return "RESUBSCRIBE_OCCURRED"
            if cur == SUB:
                return "NO_STATUS_CHANGE"
        elif cur == target:
            return "NO_STATUS_CHANGE"
        self.set_type(email, d, target, ts, lb, lbe)
        return "REQUESTED_CHANGE_OCCURRED"

    def opt_out(self, email: str, ts: str) -> list[str]:
        reasons = []
        for d in self.definitions:
            if self.current(email, d) == UNSUB:
                reasons.append("NO_STATUS_CHANGE")
            else:
                self.set_type(email, d, UNSUB, ts, None, None)
                reasons.append("UNSUBSCRIBE_FROM_ALL_OCCURRED")
        if not self.opted_out(email):
            self._set_wide(email, UNSUB, ts)
        return reasons


class Driver:
    """Sends a seeded random mix of acknowledged writes and checks each answer."""

    def __init__(self, server: Server, portal: Portal, pool: list[str], seed: int) -> None:
        self.server = server
        self.portal = portal
        self.pool = pool
        self.rng = random.Random(seed)
        self.model = Model(list(portal.definitions))
        self.requests = 0

    def http(self) -> httpx.Client:
        return self.server.client(self.portal.token)

    # how an address is spelled on the wire: any case, raw or percent-encoded in paths
    def spelled(self, email: str) -> str:
        return self.rng.choice([email, email.upper(), email.capitalize()])

    def in_path(self, email: str) -> str:
        spelled = self.spelled(email)
        return self.rng.choice([spelled, quote(spelled, safe=""), spelled.replace("@", "%40")])

    def legal(self) -> tuple[str | None, str | None]:
        if self.rng.random() < 0.3:
            return self.rng.choice(LEGAL), f"reason {self.rng.randrange(1000)}"
        return None, None

    def run(self, n: int) -> None:
        ops = [self.single, self.batch, self.opt_out, self.batch_opt_out, self.v3]
        weights = [35, 20, 15, 10, 20]
        with self.http() as http:
            for _ in range(n):
                self.rng.choices(ops, weights)[0](http)
                self.requests += 1

    def single(self, http: httpx.Client) -> None:
        email = self.rng.choice(self.pool)
        d = self.rng.choice(self.model.definitions)
        target = self.rng.choice([SUB, UNSUB, NONE])
        lb, lbe = self.legal()
        body: dict[str, Any] = {"channel": "EMAIL", "statusState": target, "subscriptionId": d}
        if lb:
            body |= {"legalBasis": lb, "legalBasisExplanation": lbe}
        version = self.rng.choice(V4_FAMILY)
        r = http.post(
            f"/communication-preferences/{version}/statuses/{self.in_path(email)}", json=body
        )
        assert r.status_code == 200, r.text
        payload = r.json()
        reason = self.model.write(email, d, target, payload["startedAt"], lb, lbe)
        (row,) = payload["results"]
        assert (row["subscriberIdString"], row["subscriptionId"], row["status"]) == (
            email,
            d,
            target,
        )
        assert row["setStatusSuccessReason"] == reason

    def batch(self, http: httpx.Client) -> None:
        inputs: list[dict[str, Any]] = []
        valid: list[tuple[str, int, str, str | None, str | None]] = []
        for _ in range(self.rng.randint(1, 25)):
            email = self.rng.choice(self.pool)
            d = self.rng.choice(self.model.definitions)
            target = self.rng.choice([SUB, UNSUB, NONE])
            lb, lbe = self.legal()
            item: dict[str, Any] = {
                "subscriberIdString": self.spelled(email),
                "channel": "EMAIL",
                "statusState": target,
                "subscriptionId": d,
            }
            if lb:
                item |= {"legalBasis": lb, "legalBasisExplanation": lbe}
            inputs.append(item)
            valid.append((email, d, target, lb, lbe))
        bad = 0
        if self.rng.random() < 0.2:  # a per-input failure must not block the others
            inputs.insert(
                self.rng.randrange(len(inputs) + 1), {**inputs[0], "subscriptionId": 999_999_999}
            )
            bad = 1
        version = self.rng.choice(V4_FAMILY)
        r = http.post(
            f"/communication-preferences/{version}/statuses/batch/write", json={"inputs": inputs}
        )
        assert r.status_code == 200, r.text
        payload = r.json()
        ts = payload["startedAt"]
        expected = [(e, d, t, self.model.write(e, d, t, ts, lb, lbe)) for e, d, t, lb, lbe in valid]
        got = [
            (x["subscriberIdString"], x["subscriptionId"], x["status"], x["setStatusSuccessReason"])
            for x in payload["results"]
        ]
        assert got == expected
        assert payload.get("numErrors", 0) == bad

    def opt_out(self, http: httpx.Client) -> None:
        email = self.rng.choice(self.pool)
        verbose = self.rng.random() < 0.5
        version = self.rng.choice(V4_FAMILY)
        r = http.post(
            f"/communication-preferences/{version}/statuses/{self.in_path(email)}/unsubscribe-all",
            params={"channel": "EMAIL", "verbose": str(verbose).lower()},
        )
        assert r.status_code == 200, r.text
        payload = r.json()
        reasons = self.model.opt_out(email, payload["startedAt"])
        if verbose:
            assert [x["setStatusSuccessReason"] for x in payload["results"]] == reasons
        else:
            assert payload["results"] == []

    def batch_opt_out(self, http: httpx.Client) -> None:
        chosen = [self.rng.choice(self.pool) for _ in range(self.rng.randint(1, 15))]
        verbose = self.rng.random() < 0.5
        version = self.rng.choice(V4_FAMILY)
        r = http.post(
            f"/communication-preferences/{version}/statuses/batch/unsubscribe-all",
            params={"channel": "EMAIL", "verbose": str(verbose).lower()},
            json={"inputs": [self.spelled(e) for e in chosen]},
        )
        assert r.status_code == 200, r.text
        payload = r.json()
        distinct = list(dict.fromkeys(chosen))
        reasons = [self.model.opt_out(e, payload["startedAt"]) for e in distinct]
        assert [x["subscriberIdString"] for x in payload["results"]] == distinct
        if verbose:
            got = [[s["setStatusSuccessReason"] for s in x["statuses"]] for x in payload["results"]]
            assert got == reasons

    def v3(self, http: httpx.Client) -> None:
        email = self.rng.choice(self.pool)
        d = self.rng.choice(self.model.definitions)
        body: dict[str, Any] = {"emailAddress": self.spelled(email), "subscriptionId": str(d)}
        cur, opted = self.model.current(email, d), self.model.opted_out(email)
        lb, lbe = None, None
        if self.rng.random() < 0.5:
            lb, lbe = self.legal()
            if lb:
                body |= {"legalBasis": lb, "legalBasisExplanation": lbe}
            path, new, v3_status = "subscribe", SUB, "SUBSCRIBED"
            refusal = (
                f"subscription {d} for {email} cannot be updated because they have unsubscribed"
            )
            accepted, changed = not (cur == UNSUB or opted), cur == NONE
        else:
            path, new, v3_status = "unsubscribe", UNSUB, "NOT_SUBSCRIBED"
            refusal = f"{email} is already unsubscribed to subscription {d}"
            accepted, changed = cur != UNSUB, True
        r = http.post(f"/communication-preferences/v3/{path}", json=body)
        if not accepted:
            assert r.status_code == 400, r.text
            assert r.json()["message"] == refusal
            return
        assert r.status_code == 200, r.text
        assert (r.json()["id"], r.json()["status"]) == (str(d), v3_status)
        if changed:
            # v3 answers carry no timestamp: take the stored one from v4
            rows = http.get(
                f"/communication-preferences/v4/statuses/{quote(email, safe='')}",
                params={"channel": "EMAIL"},
            ).json()["results"]
            (row,) = [x for x in rows if x["subscriptionId"] == d]
            assert row["status"] == new
            self.model.set_type(email, d, new, row["timestamp"], lb, lbe)


def verify(server: Server, portal: Portal, model: Model, pool: list[str]) -> dict[Any, str]:
    """Every acknowledged write reads back exactly; returns the default-row timestamps."""
    defaults: dict[Any, str] = {}
    with server.client(portal.token) as http:
        r = http.post(
            "/communication-preferences/v4/statuses/batch/read",
            params={"channel": "EMAIL"},
            json={"inputs": pool},
        )
        assert r.status_code == 200, r.text
        payload = r.json()
        assert [x["subscriberIdString"] for x in payload["results"]] == pool
        for result in payload["results"]:
            email = result["subscriberIdString"]
            assert [s["subscriptionId"] for s in result["statuses"]] == model.definitions
            for s in result["statuses"]:
                stored = model.types[email].get(s["subscriptionId"])
                got = (s["status"], s["source"], s["legalBasis"], s["legalBasisExplanation"])
                if stored is None:
                    assert got == (NONE, "Not specified", None, None), (email, s)
                    if s["timestamp"] != payload["startedAt"]:
                        defaults[email, s["subscriptionId"]] = s["timestamp"]
                else:
                    assert got == (stored.status, SOURCE, stored.legal_basis, stored.explanation), (
                        email,
                        s,
                    )
                    assert s["timestamp"] == stored.timestamp, (email, s)

        r = http.post(
            "/communication-preferences/v4/statuses/batch/unsubscribe-all/read",
            params={"channel": "EMAIL"},
            json={"inputs": pool},
        )
        assert r.status_code == 200, r.text
        for result in r.json()["results"]:
            email = result["subscriberIdString"]
            w = model.wide.get(email)
            expected = (
                []
                if w is None
                else [
                    {
                        "subscriberIdString": email,
                        "wideStatusType": "PORTAL_WIDE",
                        "status": w.status,
                        "channel": "EMAIL",
                        "timestamp": w.timestamp,
                    }
                ]
            )
            assert result["wideStatuses"] == expected, email
    return defaults


def ledger(server: Server, portal: Portal) -> Counter[Change]:
    events = server.admin(lambda store: store.events(portal.id, limit=100_000))
    assert len({e.id for e in events}) == len(events)
    assert all(e.event.changes for e in events)  # no entry without a change
    assert {e.event.source for e in events} <= {SOURCE}
    return Counter(
        (e.event.email, c.kind.value, c.target, c.old.value, c.new.value, e.event.at)
        for e in events
        for c in e.event.changes
    )


def test_acknowledged_writes_survive_sigkill(own_server: Server) -> None:
    server = own_server
    portal = server.new_portal()
    pool = [f"user{i}@example.com" for i in range(120)] + [
        f"first.last+tag{i}@example.org" for i in range(30)
    ]
    driver = Driver(server, portal, pool, seed=20260330)

    driver.run(250)
    before = verify(server, portal, driver.model, pool)
    assert ledger(server, portal) == Counter(driver.model.changes)

    server.restart(kill=True)
    assert verify(server, portal, driver.model, pool) == before
    assert ledger(server, portal) == Counter(driver.model.changes)

    driver.run(150)
    before = verify(server, portal, driver.model, pool)
    server.restart(kill=True)
    after = verify(server, portal, driver.model, pool)
    assert after == before
    changes = Counter(driver.model.changes)
    assert ledger(server, portal) == changes

    # the scenario really exercised what it claims to
    assert driver.requests == 400
    assert sum(changes.values()) >= 300
    kinds = Counter((kind, new) for _, kind, _, _, new, _ in changes.elements())
    assert kinds["WIDE", UNSUB] >= 20 and kinds["WIDE", SUB] >= 5
    assert kinds["SUBSCRIPTION", SUB] >= 50 and kinds["SUBSCRIPTION", NONE] >= 20


@dataclass
class Writer:
    """One thread's own addresses, toggled between SUBSCRIBED and UNSUBSCRIBED."""

    emails: list[str]
    batch: bool
    acked: int = 0
    in_flight: bool = False
    error: BaseException | None = None


def expected_status(changes: int) -> str:
    return NONE if changes == 0 else (SUB if changes % 2 else UNSUB)


def test_sigkill_under_concurrent_writes(own_server: Server) -> None:
    """Killed mid-traffic: acknowledged writes are present; an in-flight batch is all or none."""
    server = own_server
    portal = server.new_portal()
    d1 = portal.definitions[0]
    writers = [
        Writer([f"w{i}-{k}@example.com" for k in range(5 if i % 2 else 1)], batch=bool(i % 2))
        for i in range(8)
    ]
    stop = threading.Event()
    enough = threading.Event()
    lock = threading.Lock()
    total = [0]

    def work(w: Writer) -> None:
        with server.client(portal.token) as http:
            while not stop.is_set():
                target = SUB if w.acked % 2 == 0 else UNSUB
                w.in_flight = True
                try:
                    if w.batch:
                        r = http.post(
                            "/communication-preferences/2026-03/statuses/batch/write",
                            json={
                                "inputs": [
                                    {
                                        "subscriberIdString": e,
                                        "channel": "EMAIL",
                                        "statusState": target,
                                        "subscriptionId": d1,
                                    }
                                    for e in w.emails
                                ]
                            },
                        )
                    else:
                        r = http.post(
                            f"/communication-preferences/v4/statuses/{w.emails[0]}",
                            json={"channel": "EMAIL", "statusState": target, "subscriptionId": d1},
                        )
                except httpx.HTTPError:
                    return  # the server died under this request: it stays in flight
                if r.status_code != 200:
                    w.error = AssertionError(r.text)
                    return
                w.acked += 1
                w.in_flight = False
                with lock:
                    total[0] += 1
                    if total[0] >= 200:
                        enough.set()

    threads = [threading.Thread(target=work, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    try:
        assert enough.wait(timeout=120), "writers made no progress"
        server.stop(kill=True)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert all(w.error is None for w in writers), [w.error for w in writers]
    server.start()

    events = server.admin(lambda store: store.events(portal.id, limit=100_000))
    per_email: Counter[str] = Counter()
    for e in events:
        for c in e.event.changes:
            assert (c.kind.value, c.target) == ("SUBSCRIPTION", d1)
            per_email[e.event.email] += 1
    with server.client(portal.token) as http:
        r = http.post(
            "/communication-preferences/v4/statuses/batch/read",
            params={"channel": "EMAIL", "businessUnitId": "0"},
            json={"inputs": [e for w in writers for e in w.emails]},
        )
        assert r.status_code == 200, r.text
        status = {x["subscriberIdString"]: x["statuses"][0]["status"] for x in r.json()["results"]}
    assert sum(w.acked for w in writers) >= 200
    for w in writers:
        counts = {per_email[e] for e in w.emails}
        assert len(counts) == 1, (w, counts)  # a batch is applied all or none
        (count,) = counts
        allowed = {w.acked, w.acked + 1} if w.in_flight else {w.acked}
        assert count in allowed, (w, count)
        for e in w.emails:
            assert status[e] == expected_status(count), (w, e, status[e], count)
