"""``python -m shallownet`` runs the command-line interface."""

from shallownet.cli import console

console()
