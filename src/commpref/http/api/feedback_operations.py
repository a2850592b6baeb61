"""The mailbox-feedback operations of `/commpref/v1`: the providers' webhook, and which
providers a portal takes feedback from (handlers in `feedback.py`)."""

from __future__ import annotations

from commpref.domain import scopes
from commpref.http.api import feedback, wire
from commpref.http.api.declare import VERSION, operation, param
from commpref.http.operation import Operation

PROVIDERS = "ses, sendgrid, postmark or mailgun"

OPERATIONS: tuple[Operation, ...] = (
    # Not `declare.operation`: no bearer token. The provider's signature over the exact
    # body is the credential, checked by the handler before anything is trusted; the body
    # is read raw (SNS posts text/plain) within the pipeline's size and time limits.
    Operation(
        name="receive_feedback",
        label="commpref_receive_feedback",
        method="POST",
        path="feedback/{provider}",
        versions=(VERSION,),
        handler=feedback.receive,
        summary="A mail provider's complaints and bounces, signed by the provider",
        responses={200: feedback.FeedbackResult},
        authorize=None,
        errors=frozenset({400, 401, 404, 405, 408, 413, 414, 500, 503}),
        security=(),
        query=(param("portal", "int", "The portal the feedback is for.", required=True),),
        upload=("application/json", "text/plain"),  # documented media types of the body
        raw_body=True,
        description=(
            "Authenticated by the provider (no token): SNS's signature (ses), the signed "
            "Event Webhook (sendgrid), the basic credentials in the URL (postmark) or the "
            "webhook signing key (mailgun). Complaints opt the address out of all email, "
            "hard bounces mark it bounced, soft bounces are counted; each event once."
        ),
        param_description=f"The mail provider: {PROVIDERS}.",
    ),
    operation(
        "list_feedback_providers",
        "GET",
        "feedback-providers",
        scopes.FEEDBACK_READ,
        feedback.list_providers,
        "The mail providers the portal takes feedback from (never their secrets)",
        {200: feedback.ProviderList},
    ),
    operation(
        "set_feedback_provider",
        "PUT",
        "feedback-providers/{provider}",
        scopes.FEEDBACK_WRITE,
        feedback.set_provider,
        "Take feedback from a mail provider, with its keys (replaces them)",
        {200: feedback.ProviderView},
        body=feedback.ProviderSettings,
        param_description=f"The mail provider: {PROVIDERS}.",
    ),
    operation(
        "remove_feedback_provider",
        "DELETE",
        "feedback-providers/{provider}",
        scopes.FEEDBACK_WRITE,
        feedback.remove_provider,
        "Stop taking feedback from a mail provider",
        {200: wire.Done},
        param_description=f"The mail provider: {PROVIDERS}.",
    ),
)
