"""`commpref feedback`: the mail providers a portal takes complaints and bounces from, and
their keys (docs/feedback.md). The same service as `/commpref/v1/feedback-providers`."""

from __future__ import annotations

import click

from commpref.cli.options import build_settings, database_url_option, run
from commpref.domain import feedback_providers as fp
from commpref.domain.feedback import Provider
from commpref.domain.formats import format_ms
from commpref.services import feedback_providers, links
from commpref.services.context import now_ms
from commpref.storage.store import Store

_PROVIDERS = click.Choice([p.value for p in Provider])


@click.group("feedback")
def feedback() -> None:
    """Mail providers whose complaints and bounces a portal takes."""


@feedback.command("set")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--provider", type=_PROVIDERS, required=True)
@click.option("--topic-arn", help="ses: take only this SNS topic's messages.")
@click.option("--public-key", help="sendgrid: the Event Webhook's verification key.")
@click.option("--username", help="postmark: the basic-auth user in the webhook URL.")
@click.option(
    "--password",
    help=f"postmark: the basic-auth password (at least {fp.MIN_PASSWORD} characters).",
)
@click.option("--signing-key", help="mailgun: the HTTP webhook signing key.")
@database_url_option
def feedback_set(
    portal_id: int,
    provider: str,
    topic_arn: str | None,
    public_key: str | None,
    username: str | None,
    password: str | None,
    signing_key: str | None,
    database_url: str | None,
) -> None:
    """Take a provider's feedback (replacing its keys). Prints the URL to paste into the
    provider's webhook settings."""
    given = {
        "topicArn": topic_arn,
        "publicKey": public_key,
        "username": username,
        "password": password,
        "signingKey": signing_key,
    }
    settings = build_settings(database_url)

    async def put(store: Store) -> str:
        made = await feedback_providers.set_provider(
            store=store,
            portal_id=portal_id,
            provider=provider,
            config={k: v for k, v in given.items() if v is not None},
            now=now_ms(),
        )
        return feedback_providers.endpoint(links.base_url(settings), made.provider.value, portal_id)

    click.echo(run(settings, put))


@feedback.command("list")
@click.option("--portal", "portal_id", type=int, required=True)
@database_url_option
def feedback_list(portal_id: int, database_url: str | None) -> None:
    """Print the portal's providers: name, updated, URL, and what is not secret."""
    settings = build_settings(database_url)

    async def listed(store: Store) -> list[str]:
        await store.portal_context(portal_id)  # an unknown portal is an error, not nothing
        found = await feedback_providers.list_providers(store=store, portal_id=portal_id)
        base = links.base_url(settings)
        return [
            "\t".join(
                [
                    c.provider.value,
                    format_ms(c.updated_at),
                    feedback_providers.endpoint(base, c.provider.value, portal_id),
                    *(f"{k}={v}" for k, v in sorted(fp.public_view(c.config).items())),
                ]
            )
            for c in found
        ]

    for line in run(settings, listed):
        click.echo(line)


@feedback.command("remove")
@click.option("--portal", "portal_id", type=int, required=True)
@click.option("--provider", type=_PROVIDERS, required=True)
@database_url_option
def feedback_remove(portal_id: int, provider: str, database_url: str | None) -> None:
    """Stop taking a provider's feedback (its deliveries then answer 404)."""

    async def remove(store: Store) -> None:
        await feedback_providers.remove_provider(
            store=store, portal_id=portal_id, provider=provider
        )

    run(build_settings(database_url), remove)
    click.echo(f"removed {provider}")


COMMANDS: tuple[click.Command, ...] = (feedback,)
