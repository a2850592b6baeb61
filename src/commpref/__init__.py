"""commpref: a self-hosted communication-preferences service speaking HubSpot's API."""

__version__ = "0.1.0"
