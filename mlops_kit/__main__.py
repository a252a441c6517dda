"""``python -m mlops_kit`` runs the CLI."""

from mlops_kit.cli import main

main()
