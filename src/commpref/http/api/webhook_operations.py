"""The webhook operations of `/commpref/v1`: subscriptions, their deliveries and replays
(handlers in `webhooks.py`)."""

from __future__ import annotations

from commpref.domain import scopes
from commpref.http.api import webhooks, wire
from commpref.http.api.declare import LIMIT, operation, param
from commpref.http.operation import Operation

OPERATIONS: tuple[Operation, ...] = (
    operation(
        "create_webhook",
        "POST",
        "webhooks",
        scopes.WEBHOOKS_WRITE,
        webhooks.create_webhook,
        "Subscribe a URL to consent events",
        {201: wire.WebhookView},
        body=wire.WebhookCreate,
    ),
    operation(
        "list_webhooks",
        "GET",
        "webhooks",
        scopes.WEBHOOKS_WRITE,
        webhooks.list_webhooks,
        "Webhook subscriptions of the portal",
        {200: wire.WebhookList},
    ),
    operation(
        "get_webhook",
        "GET",
        "webhooks/{webhookId}",
        scopes.WEBHOOKS_WRITE,
        webhooks.get_webhook,
        "One webhook subscription",
        {200: wire.WebhookView},
        param_description="The webhook's id.",
    ),
    operation(
        "update_webhook",
        "PATCH",
        "webhooks/{webhookId}",
        scopes.WEBHOOKS_WRITE,
        webhooks.update_webhook,
        "Change a webhook's URL, filter or state; rotate its secret",
        {200: wire.WebhookView},
        body=wire.WebhookUpdate,
        param_description="The webhook's id.",
    ),
    operation(
        "delete_webhook",
        "DELETE",
        "webhooks/{webhookId}",
        scopes.WEBHOOKS_WRITE,
        webhooks.delete_webhook,
        "Delete a webhook and its deliveries",
        {200: wire.Done},
        param_description="The webhook's id.",
    ),
    operation(
        "list_webhook_deliveries",
        "GET",
        "webhooks/{webhookId}/deliveries",
        scopes.WEBHOOKS_WRITE,
        webhooks.list_deliveries,
        "Delivery state of a webhook's events",
        {200: wire.DeliveryList},
        (
            param(
                "state",
                "choice",
                "Only deliveries in this state.",
                choices=("PENDING", "DELIVERED", "FAILED", "SKIPPED"),
            ),
            param("after", "int", "Continue after this delivery id.", default=0, minimum=0),
            LIMIT,
        ),
        param_description="The webhook's id.",
    ),
    operation(
        "replay_webhook",
        "POST",
        "webhooks/{webhookId}/replay",
        scopes.WEBHOOKS_WRITE,
        webhooks.replay,
        "Deliver again: given deliveries, or every consent event after a cursor",
        {202: wire.ReplayResult},
        body=wire.Replay,
        param_description="The webhook's id.",
    ),
)
