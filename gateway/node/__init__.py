"""The node layer: one running gateway.

Owns the composition root (``gateway.Gateway``), configuration and the home folder, the
clock, logging, HTTP middleware and limits (``http``, ``guard``), the peer and officer
APIs, delivery, witnessing, the trust directory a gateway holds, signed records, the
audit bundle export, the roles that run in one process of a gateway at a time (``roles``)
and re-delivery after a restore (``redelivery``). The pieces get narrow ``ports``
(typing.Protocol), never the whole Gateway: only ``gateway.py`` imports them all.
Must not import ``cli``. Rules belong in ``protocol``, records in ``store``.
"""

__all__ = ["bundle", "clock", "config", "delivery", "gateway", "guard", "home", "http", "logs",
           "officer_api", "peer_api", "records", "redelivery", "roles", "trust", "witness"]
