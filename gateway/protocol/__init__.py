"""The protocol layer: what travels between offices and the rules it obeys.

Owns the wire values (payloads, envelopes, receipts, signed peer requests (version 1 and
RFC 9421), handover signatures, the trust directory), the workflow state machines, release
rules, statistics arithmetic, office time, the glossary, strict parsers and the one error tree.
Must not: open sockets, touch the database, read the clock (time comes in as arguments) or
log. Files only where a value is its file: keyrings, roots and directories load and save
themselves (``identity``; private files 0600), and the glossary reads its packaged TSV.
It imports nothing else from ``gateway`` but the generated ``gateway.schemas``.
"""

__all__ = ["envelope", "errors", "glossary", "handover", "httpsig", "identity", "localtime",
           "messages", "peerauth", "peerrequest", "receipt", "release", "scenario", "sfv",
           "stats", "strict", "workflow"]
