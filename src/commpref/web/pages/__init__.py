"""Preference pages and RFC 8058 one-click unsubscribe, served under /hs/manage-preferences."""

from commpref.web.pages.surface import surface
from commpref.web.pages.views import PREFIX

__all__ = ["PREFIX", "surface"]
