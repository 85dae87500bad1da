"""BLO Gateway: signed, encrypted, bilingual messages between border liaison offices.

Modules, one per concept: ``messages`` (payload types), ``envelope`` (seal, verify,
open), ``receipt``, ``identity`` (keys, trust directory), ``peerauth`` (signed peer
requests), ``store`` (SQLAlchemy, migrations), ``delivery`` (per-peer queues),
``peer_api`` and ``officer_api`` (the two HTTP apps), ``service`` (one running
gateway), ``audit``/``merkle``/``notes``/``witness``/``bundle``/``verify`` (the
verifiable audit log), ``workflow``/``stats``/``handover``/``records``/``release``
(cases), ``render`` and ``pdf`` (bilingual views), ``glossary`` (terms), ``errors``
(the error tree), ``cli``.
"""

__version__ = "0.1.0"
