"""The views layer: what a person reads.

Owns bilingual text (``render``) and PDFs (``pdf``) built from protocol values and the
glossary, and (next) the web app's templates and forms.
Must not touch the database, the network or a running gateway: a view is a function of
the values it is given. The node layer serves views; views never import ``node``.
"""

__all__ = ["pdf", "render"]
