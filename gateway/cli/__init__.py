"""``blo-gateway``: one command with sub-commands.

Every sub-command prints a human-readable result; errors print
``error <CODE>: <explanation>`` on stderr and exit with status 2 (the codes are
those of ``gateway.protocol.errors``). Run ``blo-gateway <command> --help`` for details.

The cli layer: parsing arguments, printing, exit codes; one module per group of verbs
(``keys``, ``messages``, ``users``, ``config``, ``serve``, ``cases``, ``audit``), the parser
and ``main`` in ``main``; also the officer API ``client``, the ``demo`` and ``provision``.
Must not hold logic that a running gateway also needs (that belongs in ``node`` or below).
"""

from gateway.cli.main import main

__all__ = ["main"]
