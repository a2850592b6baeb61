"""The HTML surfaces: the recipients' preference pages (`pages`) and the operators' console
(`console`), sharing the rendering (`render`: Jinja2, autoescaped, the pages' headers), the
translations (`i18n`) and form bodies (`forms`)."""
