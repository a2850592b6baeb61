"""Reading import files (services/uploads.py): line numbers, odd CSV, JSON Lines; packing
rows for storage (services/imports.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from commpref.domain.imports import ImportRow
from commpref.domain.model import Status
from commpref.errors import ValidationError
from commpref.services import imports, uploads
from tests.unit.builders import NOW, context


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def test_csv_records_carry_the_line_where_they_start(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.csv",
        (
            "\ufeffEMAIL,Subscription ID,status,Source\n"
            'a@example.com,ALL,UNSUBSCRIBED,"two\nlines"\n'
            "\n"
            "b@example.com,101,SUBSCRIBED,x\n"
            "short,row\n"
        ),
    )
    got = list(uploads.records(path, "csv"))
    assert got == [
        (
            2,
            {
                "email": "a@example.com",
                "subscription_id": "ALL",
                "status": "UNSUBSCRIBED",
                "source": "two\nlines",
            },
        ),
        (
            5,
            {
                "email": "b@example.com",
                "subscription_id": "101",
                "status": "SUBSCRIBED",
                "source": "x",
            },
        ),
        (6, "Expected 4 fields, found 2"),
    ]


def test_unreadable_bytes_and_nul_characters_become_rejected_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "b.csv",
        b"email,subscription_id,status\na\x00@x.com,ALL,UNSUBSCRIBED\n"
        b"\xff\xfe@example.com,ALL,UNSUBSCRIBED\n",
    )
    chunks = list(uploads.staged_chunks(path, "csv", context(), now=NOW, chunk_rows=10))
    rejects = [r for c in chunks for r in c.rejects]
    assert [(r.line, r.reason) for r in rejects] == [
        (2, "Invalid email address"),
        (3, "Invalid email address"),
    ]
    assert "\x00" not in rejects[0].email


def test_a_csv_header_without_required_columns_or_a_broken_file_is_a_400(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"lacks the column\(s\) status, subscription_id"):
        uploads.csv_header(write(tmp_path, "c.csv", "email,name\n"))
    big = "email,subscription_id,status\n" + '"' + "x" * (csv.field_size_limit() + 1) + '",1,x\n'
    with pytest.raises(ValidationError, match="Invalid CSV near line"):
        list(uploads.records(write(tmp_path, "d.csv", big), "csv"))


def test_json_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.jsonl",
        (
            '{"Email": "a@example.com", "subscriptionId": 101, "statusState": "SUBSCRIBED", '
            '"legalBasis": "NON_GDPR", "time": 5}\n'
            "\n"
            "{oops\n"
            '"a string"\n'
        ),
    )
    got = list(uploads.records(path, "jsonl"))
    assert got[0] == (
        1,
        {
            "email": "a@example.com",
            "subscription_id": 101,
            "status": "SUBSCRIBED",
            "legal_basis": "NON_GDPR",
            "timestamp": 5,
        },
    )
    assert got[1][0] == 3 and str(got[1][1]).startswith("Invalid JSON")
    assert got[2] == (4, "Expected a JSON object")


def test_chunks_hold_at_most_the_asked_rows_and_pack_losslessly(tmp_path: Path) -> None:
    lines = ["email,subscription_id,status,timestamp,source,legal_basis,legal_basis_explanation"]
    lines += [f"u{i}@example.com,101,SUBSCRIBED,{i},src {i},NON_GDPR,é {i}" for i in range(25)]
    lines += ["u0@example.com,ALL,UNSUBSCRIBED,99999999999999999999,,,"]
    path = write(tmp_path, "f.csv", "\n".join(lines) + "\n")
    chunks = list(uploads.staged_chunks(path, "csv", context(), now=NOW, chunk_rows=10))
    assert [len(c.rows) for c in chunks] == [10, 10, 5]
    assert [c.first_line for c in chunks] == [2, 12, 22]
    assert [r.reason for c in chunks for r in c.rejects] == [
        "Invalid timestamp 99999999999999999999; use epoch milliseconds or ISO 8601 (1970 to 9999)"
    ]
    rows = [r for c in chunks for r in c.rows]
    assert imports.unpack(imports.pack(rows)) == rows
    assert rows[3] == ImportRow(
        5, "u3@example.com", 101, 0, Status.SUBSCRIBED, 3, "src 3", "NON_GDPR", "é 3"
    )


@pytest.mark.parametrize(
    ("given", "name", "media", "fmt"),
    [
        (None, "x.csv", None, "csv"),
        (None, "x.JSONL", None, "jsonl"),
        (None, "x.ndjson", None, "jsonl"),
        (None, None, "application/x-ndjson", "jsonl"),
        (None, None, "text/csv; charset=utf-8", "csv"),
        ("JSONL", "x.csv", None, "jsonl"),
    ],
)
def test_formats(given: str | None, name: str | None, media: str | None, fmt: str) -> None:
    assert uploads.detect_format(given, name, media) == fmt
