"""The protocol layer: what travels between offices and the rules it obeys.

Owns the wire values (payloads, envelopes, receipts, signed peer requests, handover
signatures, the trust directory), the workflow state machines, release rules, statistics
arithmetic, office time, the glossary, strict parsers and the one error tree.
Must not: open sockets, touch the database or files (the packaged glossary aside), read the
clock (time comes in as arguments) or log. It imports nothing else from ``gateway`` but
the generated ``gateway.schemas``.
"""

__all__ = ["envelope", "errors", "glossary", "handover", "identity", "localtime", "messages",
           "peerauth", "receipt", "release", "scenario", "stats", "strict", "workflow"]
