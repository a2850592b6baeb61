"""Schemathesis against the server's own `/openapi.json`, on every backend.

A fixed budget per operation and mode here (`FUZZ_EXAMPLES`, default 15); `make fuzz` runs the
same driver with a much larger one. What is checked on every answer is listed in
`tests/support/fuzz.py`.
"""

from __future__ import annotations

import os

from tests.support import fuzz
from tests.support.server import Server

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))


def test_every_operation_keeps_the_documented_contract(server: Server) -> None:
    portal = server.new_portal()
    report = fuzz.run(server.base_url, portal.token, EXAMPLES)
    print("\n" + fuzz.describe(report))  # `-s` shows the figures
    errors = [
        line for line in server.log_path.read_text().splitlines() if '"level":"error"' in line
    ]
    assert report.failures == [], errors[-3:]  # the server's side of any 500
    assert len(report.cases) >= 57  # every operation of every version, and the service ones
    assert report.statuses[200] > 0 and report.statuses[400] > 0
    assert not [code for code in report.statuses if code >= 500]
