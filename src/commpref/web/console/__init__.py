"""The operator's console under /console (docs/console.md): server-rendered pages over the
same services as the API and the CLI, for signed-in console users."""

from commpref.web.console.surface import surface
from commpref.web.console.visit import PREFIX

__all__ = ["PREFIX", "surface"]
