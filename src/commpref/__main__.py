"""`python -m commpref` = the `commpref` command."""

from commpref.cli import main

main()
