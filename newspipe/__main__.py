"""`python -m newspipe` = the `newspipe` CLI."""

from newspipe.cli import main

main()
