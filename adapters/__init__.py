"""Adapters: files that already exist elsewhere become messages, through the officer API.

``blo-import hotline`` reads the hotline's call log (CSV or JSON), ``blo-import roster``
the Border Guard's list of people to repatriate (CSV or XLSX); ``adapters/README.md``
has the columns and ``adapters/examples/`` example files (invented people).

Invariants:

* An adapter is an external program: it reaches a gateway only through the officer API
  with ``gateway.cli.client.OfficerClient``, and builds payloads, labels and messages only
  with ``gateway.protocol``'s public modules (an import-linter contract holds it to this).
* A file is read in place, size-limited before it is parsed, and never copied; nothing of
  its content is logged or written anywhere but into the sealed messages (and the preview
  the user asked for on stdout). A bad cell is reported by row, column and reason, never
  by echoing it.
* Nothing is sent from a file with a bad row unless the user chooses ``--send-good-rows``.
* Every message goes under an ``Idempotency-Key`` derived from the row's stable id, so a
  file imported twice sends once (within the gateway's ``idempotency_key_hours``).

Modules: ``table`` (reading CSV, JSON, XLSX), ``cells`` (columns and cell parsers),
``values`` (schema values), ``hotline`` and ``roster`` (rows to payloads), ``plan``
(items, problems, the preview), ``send`` (through the officer API), ``text`` (the
glossary's words), ``cli`` (``blo-import``).
"""

__all__ = ["cells", "cli", "hotline", "plan", "roster", "send", "table", "text", "values"]
