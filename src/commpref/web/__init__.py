"""Preference pages and RFC 8058 one-click unsubscribe, served under /hs/manage-preferences."""

from commpref.web.pages import PREFIX
from commpref.web.surface import surface

__all__ = ["PREFIX", "surface"]
