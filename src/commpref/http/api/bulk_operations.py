"""The bulk operations of `/commpref/v1`: the streamed export and import jobs (handlers
in `handlers.py`)."""

from __future__ import annotations

from commpref.domain import scopes
from commpref.http.api import handlers, wire
from commpref.http.api.declare import LIMIT, operation, param
from commpref.http.operation import Operation

OPERATIONS: tuple[Operation, ...] = (
    # --- export ------------------------------------------------------------------------------
    operation(
        "export",
        "GET",
        "exports",
        scopes.EXPORT_READ,
        handlers.export,
        "Download every address's current statuses (or the ledger), streamed",
        {200: "text/csv"},
        (
            param("format", "choice", "csv or jsonl.", default="csv", choices=("csv", "jsonl")),
            param(
                "onlyUnsubscribed",
                "bool",
                "Only UNSUBSCRIBED statuses (a suppression list).",
                default=False,
            ),
            param(
                "history",
                "bool",
                "The consent ledger (one row per event) instead of the current state.",
                default=False,
            ),
        ),
    ),
    # --- imports -------------------------------------------------------------------------------
    operation(
        "create_import",
        "POST",
        "imports",
        scopes.IMPORT_WRITE,
        handlers.create_import,
        "Upload a CSV or JSON Lines file as an import job (the body is the file)",
        {202: wire.ImportJobView},
        (
            param(
                "format",
                "choice",
                "csv or jsonl (default: from fileName or the Content-Type, else csv).",
                choices=("csv", "jsonl"),
            ),
            param(
                "allowResubscribe",
                "bool",
                "Let rows undo opt-outs (and erasures) when newer.",
                default=False,
            ),
            param("fileName", "str", "The file's name, kept with the job."),
        ),
        upload=("text/csv", "application/x-ndjson"),
    ),
    operation(
        "list_imports",
        "GET",
        "imports",
        scopes.IMPORT_WRITE,
        handlers.list_imports,
        "Import jobs of the portal, newest first",
        {200: wire.ImportJobList},
        (LIMIT,),
    ),
    operation(
        "get_import",
        "GET",
        "imports/{importId}",
        scopes.IMPORT_WRITE,
        handlers.get_import,
        "One import job: status and counts",
        {200: wire.ImportJobView},
        param_description="The import job's id.",
    ),
    operation(
        "cancel_import",
        "POST",
        "imports/{importId}/cancel",
        scopes.IMPORT_WRITE,
        handlers.cancel_import,
        "Cancel an import job (chunks applied so far stay applied)",
        {200: wire.ImportJobView},
        param_description="The import job's id.",
    ),
    operation(
        "get_import_report",
        "GET",
        "imports/{importId}/report",
        scopes.IMPORT_WRITE,
        handlers.import_report,
        "Rows of an import job that were rejected or skipped, with line numbers and reasons",
        {200: wire.ImportReport},
        (param("after", "int", "Continue after this line.", default=0, minimum=0), LIMIT),
        param_description="The import job's id.",
    ),
)
