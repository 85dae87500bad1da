"""BLO Gateway: signed, encrypted, bilingual messages between border liaison offices.

Modules, one per concept: ``messages`` (payload types), ``envelope`` (seal,
verify, open), ``identity`` (keys, trust directory), ``render`` (bilingual
views), ``glossary`` (terms), ``errors`` (the error tree), ``cli``.
"""

__version__ = "0.1.0"
