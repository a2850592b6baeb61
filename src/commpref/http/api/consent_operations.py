"""The operations of `/commpref/v1` on consent records: one address's history, the
portal's change feed and the erasure of an address (handlers in `handlers.py`)."""

from __future__ import annotations

from commpref.domain import scopes
from commpref.http.api import handlers, wire
from commpref.http.api.declare import LIMIT, operation, param
from commpref.http.operation import Operation

SINCE = param(
    "since", "str", "A cursor from a previous page: continue after it (absent: from the start)."
)
EMAIL = "The email address (percent-decoded once; `+` stays `+`)."

OPERATIONS: tuple[Operation, ...] = (
    # --- consent history and the change feed -------------------------------------------------
    operation(
        "get_subscriber_history",
        "GET",
        "subscribers/{subscriberIdString}/history",
        scopes.HISTORY_READ,
        handlers.subscriber_history,
        "Consent history of one address (including events relabelled by an erasure)",
        {200: wire.ConsentEventPage},
        (SINCE, LIMIT),
        param_description=EMAIL,
    ),
    operation(
        "list_events",
        "GET",
        "events",
        scopes.HISTORY_READ,
        handlers.events,
        "The change feed: consent events of the portal after a cursor",
        {200: wire.ConsentEventPage},
        (
            SINCE,
            LIMIT,
            param(
                "subscriptionId",
                "str",
                "Only this definition's changes; ALL: only opt-out-of-all changes and erasures.",
            ),
            param(
                "actor",
                "str",
                "Only changes by this actor (`token:7`), or of this kind "
                "(`import` matches `import:12`).",
            ),
            param("startTime", "time", "Only changes at or after (epoch ms or ISO 8601)."),
            param("endTime", "time", "Only changes before (epoch ms or ISO 8601)."),
        ),
    ),
    # --- erasure -------------------------------------------------------------------------------
    operation(
        "erase_subscriber",
        "DELETE",
        "subscribers/{subscriberIdString}",
        scopes.SUBSCRIBERS_ERASE,
        handlers.erase,
        "Erase an address: statuses removed, ledger relabelled with a keyed hash, suppressed",
        {200: wire.Erasure},
        param_description=EMAIL,
    ),
)
