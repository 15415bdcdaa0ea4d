"""The ``zsfuse`` parser: one sub-command per command module, each adding its own options."""

from __future__ import annotations

from types import MappingProxyType

from . import embed, evaluate, predict
from .parsing import CommandParser

COMMANDS = MappingProxyType({"evaluate": evaluate, "predict": predict, "embed": embed})  # name -> module with check() and run()


def build_parser() -> CommandParser:
    from .. import __version__

    parser = CommandParser(prog="zsfuse", description="Zero-shot speech emotion recognition (ZS-Fuse).")
    parser.add_argument("--version", action="version", version=f"zsfuse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        command = module.add_parser(sub)
        command.set_defaults(command_parser=command)  # its errors read "zsfuse evaluate: error: ..."
    return parser
