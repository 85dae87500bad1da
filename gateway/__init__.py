"""BLO Gateway: signed, encrypted, bilingual messages between border liaison offices.

Layers, each a package that may import only those below it (checked by import-linter,
``pyproject.toml``; the picture and one message's path are in docs/architecture.md):

- ``cli``      the ``blo-gateway`` command, one module per group of verbs; demo, provisioning
- ``node``     one running gateway: composition root, peer and officer APIs, delivery,
               witnessing, trust directory, config and home
- ``store``    what a gateway keeps (SQLAlchemy, Alembic), one module per concept
- ``views``    bilingual text and PDFs, functions of the values they are given
- ``audit``    the verifiable log: leaves, Merkle tree, checkpoints, the offline verifier
- ``protocol`` pure wire values and rules: envelope, receipt, identity, workflow, errors
"""

__version__ = "0.1.0"
