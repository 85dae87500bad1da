"""The audit layer: the verifiable log, as values and proofs.

Owns the leaf encoding (``leaves``), the RFC 6962 tree and its proofs (``merkle``),
C2SP checkpoints and cosignatures (``notes``) and the offline bundle verifier (``verify``).
Must not import ``store``, ``node``, ``views`` or ``cli``, nor open sockets: the verifier
runs on an inspector's laptop from bundle files alone (a live peer is handed in as a
``verify.LivePeer``). Builds on ``protocol`` only.
"""

__all__ = ["leaves", "merkle", "notes", "verify"]
