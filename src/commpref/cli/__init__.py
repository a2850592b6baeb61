"""The `commpref` command: the `main` group, with the commands of this package's modules.

- `serve.py`: serve, migrate, demo
- `admin.py`: portal, business-unit, definition, token, tallies
- `links.py`: list-unsubscribe
- `bulk.py`: history, import, export, erase
- `users.py`: user (the console's users)
- `feedback.py`: feedback (mail providers' complaints and bounces)
- `options.py`: what they share (`--database-url`, settings, running against the store,
  one-line errors)
"""

from __future__ import annotations

import click

from commpref.cli import admin, bulk, links, serve, users
from commpref.cli import feedback as feedback_cli


@click.group()
@click.version_option(package_name="commpref")
def main() -> None:
    """commpref: HubSpot's Communication Preferences API, self-hosted."""


for command in (*serve.COMMANDS, *admin.COMMANDS, *links.COMMANDS, *bulk.COMMANDS, *users.COMMANDS):
    main.add_command(command)
main.add_command(feedback_cli.feedback)  # feedback: mail providers' complaints and bounces
