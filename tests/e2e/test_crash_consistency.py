"""Crash consistency under load, SQLite and PostgreSQL.

Several clients drive batch writes (G) and batch opt-outs (H) at full speed, each over
addresses of its own, while the server is SIGKILLed at seeded random moments and restarted.
Every request a client sends changes every address it names, so its effect can be seen:

* an acknowledged request is fully present — in the statuses and, under its correlation id,
  in the ledger, change for change;
* a request the kill left unanswered is fully present or fully absent (all of its addresses
  show the state after it, or all the state before it), and the ledger agrees;
* replaying the ledger, address by address in id order, gives exactly the stored statuses,
  and every change starts from the value the previous one left.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.server import Portal, Server

pytestmark = pytest.mark.slow

SUB, UNSUB, NONE = "SUBSCRIBED", "UNSUBSCRIBED", "NOT_SPECIFIED"
CLIENTS = 4
ADDRESSES = 6  # per client
KILLS = 4
V = "/communication-preferences/2026-03"

State = tuple[tuple[str, ...], str | None]  # statuses by definition, wide status (or none)
Change = tuple[str, str, int, str, str]  # email, kind, target, old, new


@dataclass
class Sent:
    """One request as its client logged it."""

    op: str  # "G" or "H"
    body: dict[str, Any]
    before: dict[str, State]
    after: dict[str, State]
    changes: Counter[Change]
    acked: bool = False
    applied: bool | None = None  # for unanswered requests, once resolved
    correlation_id: str | None = None


@dataclass
class Client:
    index: int
    portal: Portal
    rng: random.Random
    emails: list[str] = field(default_factory=list)
    state: dict[str, State] = field(default_factory=dict)
    log: list[Sent] = field(default_factory=list)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self.emails = [f"c{self.index}-{k}@example.com" for k in range(ADDRESSES)]
        blank = tuple(NONE for _ in self.portal.definitions)
        self.state = {e: (blank, None) for e in self.emails}

    def next_request(self) -> Sent:
        defs = self.portal.definitions
        open_ = [e for e in self.emails if self.state[e][1] != UNSUB]
        chosen = self.rng.sample(self.emails, self.rng.randint(2, ADDRESSES))
        if open_ and self.rng.random() < 0.4:
            chosen = self.rng.sample(open_, self.rng.randint(1, len(open_)))
            before = {e: self.state[e] for e in chosen}
            after: dict[str, State] = {}
            changes: Counter[Change] = Counter()
            for e in chosen:
                types, wide = before[e]
                for d, old in zip(defs, types, strict=True):
                    if old != UNSUB:
                        changes[e, "SUBSCRIPTION", d, old, UNSUB] += 1
                changes[e, "WIDE", 0, wide or NONE, UNSUB] += 1
                after[e] = (tuple(UNSUB for _ in defs), UNSUB)
            return Sent("H", {"inputs": chosen}, before, after, changes)
        before = {e: self.state[e] for e in chosen}
        after = {}
        changes = Counter()
        inputs = []
        for e in chosen:
            types, wide = before[e]
            i = self.rng.randrange(len(defs))
            new = UNSUB if types[i] == SUB else SUB  # always a change
            inputs.append(
                {
                    "subscriberIdString": e,
                    "channel": "EMAIL",
                    "statusState": new,
                    "subscriptionId": defs[i],
                }
            )
            changes[e, "SUBSCRIPTION", defs[i], types[i], new] += 1
            if new == SUB and wide == UNSUB:  # a resubscribe lifts the opt-out
                changes[e, "WIDE", 0, UNSUB, SUB] += 1
                wide = SUB
            after[e] = ((*types[:i], new, *types[i + 1 :]), wide)
        return Sent("G", {"inputs": inputs}, before, after, changes)


def read_states(http: httpx.Client, emails: list[str]) -> dict[str, State]:
    r = http.post(f"{V}/statuses/batch/read", params={"channel": "EMAIL"}, json={"inputs": emails})
    assert r.status_code == 200, r.text
    types = {
        x["subscriberIdString"]: tuple(s["status"] for s in x["statuses"])
        for x in r.json()["results"]
    }
    r = http.post(
        f"{V}/statuses/batch/unsubscribe-all/read",
        params={"channel": "EMAIL"},
        json={"inputs": emails},
    )
    assert r.status_code == 200, r.text
    wide = {
        x["subscriberIdString"]: (x["wideStatuses"][0]["status"] if x["wideStatuses"] else None)
        for x in r.json()["results"]
    }
    return {e: (types[e], wide[e]) for e in emails}


class Run:
    def __init__(self, server: Server, portal: Portal, seed: int) -> None:
        self.server = server
        self.up = threading.Event()
        self.up.set()
        self.stop = threading.Event()
        self.clients = [Client(i, portal, random.Random(seed + i)) for i in range(CLIENTS)]

    def drive(self, client: Client) -> None:
        try:
            while not self.stop.is_set():
                self.up.wait()
                with self.server.client(client.portal.token) as http:
                    self._until_error(client, http)
        except BaseException as exc:  # reported by the test
            client.error = exc

    def _until_error(self, client: Client, http: httpx.Client) -> None:
        while not self.stop.is_set():
            sent = client.next_request()
            client.log.append(sent)
            path = "statuses/batch/write" if sent.op == "G" else "statuses/batch/unsubscribe-all"
            params = {"channel": "EMAIL"} if sent.op == "H" else None
            try:
                r = http.post(f"{V}/{path}", params=params, json=sent.body)
            except httpx.TransportError:
                self._resolve(client, sent)
                return
            assert r.status_code == 200, r.text
            assert "numErrors" not in r.json()
            sent.acked = True
            sent.correlation_id = r.headers["x-hubspot-correlation-id"]
            client.state.update(sent.after)

    def _resolve(self, client: Client, sent: Sent) -> None:
        """After the restart: did the unanswered request land whole, or not at all?"""
        while True:
            self.up.wait()
            try:
                with self.server.client(client.portal.token) as http:
                    states = read_states(http, client.emails)
                break
            except httpx.TransportError:
                time.sleep(0.05)  # killed again meanwhile: wait for the next restart
        touched = {e: states[e] for e in sent.after}
        if touched == sent.after:
            sent.applied = True
        elif touched == sent.before:
            sent.applied = False
        else:
            raise AssertionError(f"partly applied: {sent.op} {sent.body} → {touched}")
        client.state.update(touched)
        untouched = {e: s for e, s in states.items() if e not in sent.after}
        assert untouched == {e: client.state[e] for e in untouched}, "a write went missing"


def ledger_changes(server: Server, portal: Portal) -> tuple[dict[str, Counter[Change]], list[Any]]:
    events = server.admin(lambda store: store.events(portal.id, limit=1_000_000))
    by_request: dict[str, Counter[Change]] = defaultdict(Counter)
    for e in events:
        for c in e.event.changes:
            change = (e.event.email, c.kind.value, c.target, c.old.value, c.new.value)
            by_request[e.event.correlation_id][change] += 1
    return by_request, events


def test_sigkill_under_batch_load_loses_no_acknowledged_write(own_server: Server) -> None:
    server = own_server
    portal = server.new_portal()
    seed = 20260701
    rng = random.Random(seed)
    run = Run(server, portal, seed)
    threads = [threading.Thread(target=run.drive, args=(c,)) for c in run.clients]
    for t in threads:
        t.start()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.5))  # a random moment of full-speed traffic
            run.up.clear()
            server.stop(kill=True)
            server.start()
            run.up.set()
        time.sleep(0.5)
    finally:
        run.stop.set()
        run.up.set()
        for t in threads:
            t.join(timeout=120)
    assert [c.error for c in run.clients] == [None] * CLIENTS

    # the final state, read after one more crash, is what the clients' logs say
    server.stop(kill=True)
    server.start()
    with server.client(portal.token) as http:
        for c in run.clients:
            assert read_states(http, c.emails) == c.state

    by_request, events = ledger_changes(server, portal)
    sent = [s for c in run.clients for s in c.log]
    acked = [s for s in sent if s.acked]
    unanswered = [s for s in sent if not s.acked]
    for s in acked:
        assert s.correlation_id is not None
        assert by_request.pop(s.correlation_id) == s.changes, s.body
    # what is left belongs to unanswered requests that landed, each exactly once and whole
    landed = [s.changes for s in unanswered if s.applied]
    assert sorted(map(sorted, by_request.values())) == sorted(map(sorted, landed))
    assert all(s.applied is not None for s in unanswered)  # each was resolved after its crash

    # the ledger, replayed per address, gives the stored statuses
    defs = portal.definitions
    replay: dict[str, dict[tuple[str, int], str]] = defaultdict(dict)
    for e in events:
        for ch in e.event.changes:
            key = (ch.kind.value, ch.target)
            assert replay[e.event.email].get(key, NONE) == ch.old.value, (e.id, ch)
            replay[e.event.email][key] = ch.new.value
    for c in run.clients:
        for email, (types, wide) in c.state.items():
            got = replay[email]
            assert tuple(got.get(("SUBSCRIPTION", d), NONE) for d in defs) == types
            assert got.get(("WIDE", 0)) == wide

    assert len(acked) >= 20, "the clients hardly ran"
    print(  # for the closing note: -s shows it
        f"\n{server.database_url.split(':')[0]}: {KILLS + 1} SIGKILLs, {len(acked)} acknowledged, "
        f"{len(unanswered)} unanswered ({sum(bool(s.applied) for s in unanswered)} landed), "
        f"{sum(len(s.after) for s in acked)} acknowledged address writes, none lost"
    )
