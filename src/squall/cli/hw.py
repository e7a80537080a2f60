"""``squall hw ...``: the hardware co-design commands (cost model, fixed point, export).

Each command is registered by one small function here; :func:`register` adds the ``hw`` group
to the main parser. Like every command, they only parse options and call the library
(:mod:`squall.hw`).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``squall hw`` and its subcommands to the main parser's subcommands."""
    group = sub.add_parser("hw", help="hardware co-design: cost model, fixed point, export")
    hw_sub = group.add_subparsers(dest="hw_command", metavar="HW_COMMAND",
                                  parser_class=type(group))
    group.set_defaults(func=None, parser=group)
    for add in COMMANDS:
        add(hw_sub)


#: Functions that each add one ``squall hw`` subcommand (appended below, one per command).
COMMANDS: list = []
