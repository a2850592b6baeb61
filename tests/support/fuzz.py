"""Schemathesis over the server's own `/openapi.json`.

Every operation of every version, with generated valid (positive) and invalid (negative)
inputs. Checks on each answer:

* no 5xx;
* the status code is one the document declares for that operation;
* the Content-Type and the body match the documented schema;
* every error body is HubSpot's envelope: `status: "error"`, `message`, `correlationId` equal
  to the `X-HubSpot-Correlation-Id` header, `category`;
* invalid input is refused with a 4xx (negative cases).

`run(base_url, token, examples)` returns per-operation case counts and the failures found.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
ENVELOPE_KEYS = ("status", "message", "correlationId", "category")


@dataclass
class Report:
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.cases.values())


def envelope_problem(response: Any) -> str | None:
    """Why an error answer is not HubSpot's envelope, or None."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return f"error body is not JSON: {response.text[:200]!r}"
    if not isinstance(body, dict):
        return f"error body is not an object: {body!r}"
    missing = [k for k in ENVELOPE_KEYS if not isinstance(body.get(k), str)]
    if missing:
        return f"error body lacks {missing}: {body!r}"
    if body["status"] != "error":
        return f"error body status is {body['status']!r}"
    header = response.headers.get("x-hubspot-correlation-id")
    if isinstance(header, list):  # schemathesis' Response keeps every value of a header
        header = header[0] if len(header) == 1 else header
    if body["correlationId"] != header:
        return "correlationId differs from the X-HubSpot-Correlation-Id header"
    return None


def rejection_applies(case: Any, operation: Any) -> bool:
    """Whether a negative case is still invalid once sent: the harness's Authorization header
    replaces any generated one, and unknown query parameters are ignored by contract
    (docs/wire-contract.md §6.4), so mutations of only those must not expect a refusal."""
    if not case.meta:
        return False
    negative = {
        getattr(loc, "value", str(loc))
        for loc, info in case.meta.components.items()
        if info.mode == GenerationMode.NEGATIVE
    }
    negative.discard("header")
    media = (case.media_type or "").lower()
    if "body" in negative and media and "json" not in media:
        negative.discard("body")  # a raw upload (text/csv, …) is bytes: any bytes are a file
    declared = {p.name for p in operation.query}
    if "query" in negative and set(case.query or {}) - declared:
        negative.discard("query")
    return bool(negative)


def run(base_url: str, token: str, examples: int, *, seed: int = 7) -> Report:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    report = Report()
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, base_url, session, headers, examples, seed, report)
    return report


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
    examples: int,
    seed: int,
    report: Report,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"
    try:
        strategy = operation.as_strategy(generation_mode=mode)
    except Exception as exc:  # e.g. no negative variant exists for an operation
        report.failures.append(f"{label} [{mode}]: cannot generate: {exc}")
        return

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate],  # no shrinking: keep the budget; the first failure is shown
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @hypothesis.seed(seed)
    @hypothesis.given(case=strategy)
    def check(case: Any) -> None:
        report.cases[label] += 1
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        report.statuses[response.status_code] += 1
        problem = envelope_problem(response)
        if problem:
            raise AssertionError(problem)
        checks = CHECKS if rejection_applies(case, operation) else CHECKS[:-1]
        case.validate_response(response, checks=checks, headers=headers)

    try:
        check()
    except hypothesis.errors.Unsatisfiable:
        # Nothing to make invalid (no parameters, no body): only positive cases exist.
        report.skipped.append(f"{label} [{mode}]")
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a group
        text = str(exc).strip()
        report.failures.append(f"{label} [{mode}]: {text[:3000]}")


def describe(report: Report) -> str:
    lines = [f"{report.total} cases over {len(report.cases)} operations"]
    lines.append("statuses: " + json.dumps(dict(sorted(report.statuses.items()))))
    lines += report.failures
    return "\n".join(lines)
