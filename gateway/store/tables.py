"""The tables, as SQLAlchemy Core ``Table`` objects over one ``metadata``.

The schema is created and moved forward only by the Alembic migrations in
``gateway/store/migrations``; these definitions must match what they build.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.protocol.envelope import MAX_CASE_REFERENCE

__all__ = ["audit_alerts", "audit_checkpoints", "audit_leaves", "audit_nodes", "case_items",
           "content_keys", "courier_bundles", "courier_carried", "courier_owed",
           "directory_history", "envelopes", "idempotency_keys", "inbox", "metadata", "nonces",
           "outbox", "peer_state", "receipts", "users", "web_drafts", "witness_log",
           "witnessed_by"]


metadata = sa.MetaData()
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
envelopes = sa.Table(
    "envelopes", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("direction", sa.String(3), nullable=False),  # "out" | "in"
    sa.Column("message_id", sa.LargeBinary(16), nullable=False),
    sa.Column("sender", sa.String(64), nullable=False),
    sa.Column("recipients", sa.String(1100), nullable=False),
    sa.Column("message_type", sa.SmallInteger, nullable=False),
    sa.Column("sha256", sa.LargeBinary(32), nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("expires_at_ms", sa.BigInteger, nullable=False),
    sa.Column("stored_at_ms", sa.BigInteger, nullable=False),
    sa.Column("case_reference", sa.String(MAX_CASE_REFERENCE), nullable=False),
    sa.Column("in_reply_to", sa.String(32), nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("handling_code", sa.SmallInteger, nullable=False),
    sa.Column("deadline_ms", sa.BigInteger, nullable=False),
    sa.Column("submitted_by", sa.String(64), nullable=True),
    sa.Column("shredded_at_ms", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("sender", "message_id", name="uq_envelopes_sender_message"),
)
outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), nullable=False),
    sa.Column("peer", sa.String(64), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # queued | delivered | dead
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
    sa.Column("last_error_code", sa.String(32), nullable=True),
    sa.Column("last_error", sa.String(300), nullable=True),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
    sa.Column("delivered_at_ms", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("envelope_id", "peer", name="uq_outbox_envelope_peer"),
    sa.Index("ix_outbox_due", "peer", "state", "priority", "id"),
)
inbox = sa.Table(
    "inbox", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), nullable=False,
              unique=True),
    sa.Column("received_at_ms", sa.BigInteger, nullable=False),
    sa.Column("opened_at_ms", sa.BigInteger, nullable=True),
    sa.Column("opened_by", sa.String(64), nullable=True),
)
receipts = sa.Table(
    "receipts", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), nullable=False),
    sa.Column("office", sa.String(64), nullable=False),  # the receiving office that signed
    sa.Column("direction", sa.String(8), nullable=False),  # "issued" | "received"
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("received_at_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("envelope_id", "office", name="uq_receipts_envelope_office"),
)
peer_state = sa.Table(
    "peer_state", metadata,
    sa.Column("peer", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_ms", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_success_ms", sa.BigInteger, nullable=True),
    sa.Column("last_failure_ms", sa.BigInteger, nullable=True),
    sa.Column("last_error_code", sa.String(32), nullable=True),
    sa.Column("last_error", sa.String(300), nullable=True),
    sa.Column("last_seen_ms", sa.BigInteger, nullable=True),
    sa.Column("clock_skew_ms", sa.BigInteger, nullable=True),
)
nonces = sa.Table(
    "nonces", metadata,
    sa.Column("peer", sa.String(64), primary_key=True),
    sa.Column("nonce", sa.String(32), primary_key=True),
    sa.Column("expires_ms", sa.BigInteger, nullable=False, index=True),
)
users = sa.Table(
    "users", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_sha256", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("disabled_at_ms", sa.BigInteger, nullable=True),
)
directory_history = sa.Table(  # every trust directory this gateway accepted; highest wins
    "directory_history", metadata,
    sa.Column("serial", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("sha256", sa.LargeBinary(32), nullable=False),
    sa.Column("accepted_at_ms", sa.BigInteger, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),  # the signed directory, verbatim
)
audit_leaves = sa.Table(
    "audit_leaves", metadata,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("t", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)
audit_nodes = sa.Table(
    "audit_nodes", metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)
audit_checkpoints = sa.Table(
    "audit_checkpoints", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),  # signed, with cosignatures as they arrive
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)
witnessed_by = sa.Table(  # the latest checkpoint of OUR log that each peer cosigned
    "witnessed_by", metadata,
    sa.Column("peer", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)
witness_log = sa.Table(  # every checkpoint of a PEER's log that we cosigned
    "witness_log", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("origin", sa.String(128), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)
audit_alerts = sa.Table(
    "audit_alerts", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("t", sa.BigInteger, nullable=False),
    sa.Column("origin", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("detail", sa.String(300), nullable=False),
)
case_items = sa.Table(
    "case_items", metadata,
    sa.Column("root_id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("message_type", sa.SmallInteger, nullable=False),
    sa.Column("root_step", sa.Integer, nullable=False),
    sa.Column("case_reference", sa.String(MAX_CASE_REFERENCE), nullable=False, index=True),
    sa.Column("opened_by", sa.String(64), nullable=False),  # office that sent the root
    sa.Column("counterpart", sa.String(64), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Column("deadline_ms", sa.BigInteger, nullable=False),
    sa.Column("answered_ms", sa.BigInteger, nullable=True),
)
content_keys = sa.Table(  # per-envelope storage keys; deleting one shreds that envelope
    "content_keys", metadata,
    sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), primary_key=True,
              autoincrement=False),
    sa.Column("key", sa.LargeBinary(32), nullable=False),
)
idempotency_keys = sa.Table(  # Idempotency-Key of officer requests that created something
    "idempotency_keys", metadata,
    sa.Column("user", sa.String(64), primary_key=True),
    sa.Column("key_sha256", sa.LargeBinary(32), primary_key=True),  # never the key itself
    sa.Column("request_hmac", sa.LargeBinary(32), nullable=False),  # keyed by the key
    sa.Column("message_id", sa.LargeBinary(16), nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("answer", sa.LargeBinary, nullable=False),  # the JSON answer, replayed verbatim
    sa.Column("created_at_ms", sa.BigInteger, nullable=False, index=True),
)
courier_bundles = sa.Table(  # every courier bundle written ("out") or imported ("in")
    "courier_bundles", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("direction", sa.String(3), nullable=False),  # "out" | "in"
    sa.Column("peer", sa.String(64), nullable=False),  # the destination, or the issuer
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.LargeBinary(32), nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("recorded_at_ms", sa.BigInteger, nullable=False),
    sa.Column("envelopes", sa.Integer, nullable=False),
    sa.Column("receipts", sa.Integer, nullable=False),
    sa.UniqueConstraint("direction", "peer", "sequence", name="uq_courier_bundles_seq"),
)
courier_owed = sa.Table(  # receipts we issued for envelopes a bundle brought, until acknowledged
    "courier_owed", metadata,
    sa.Column("peer", sa.String(64), primary_key=True),
    sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), primary_key=True,
              autoincrement=False),
    sa.Column("since_sequence", sa.BigInteger, nullable=True),  # our first bundle carrying it
)
courier_carried = sa.Table(  # outbox rows a courier bundle carried (the next one puts others first)
    "courier_carried", metadata,
    sa.Column("outbox_id", sa.BigInteger, sa.ForeignKey("outbox.id"), primary_key=True,
              autoincrement=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),  # the last bundle that carried it
)
web_drafts = sa.Table(  # the web app's saved compose forms, sealed at rest like envelopes
    "web_drafts", metadata,
    sa.Column("id", sa.LargeBinary(16), primary_key=True),  # random; in URLs as hex
    sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("message_type", sa.String(40), nullable=False),  # the payload type's slug
    sa.Column("recipients", sa.String(400), nullable=False),  # office ids, comma-separated
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("sealed", sa.LargeBinary, nullable=False),  # the form's values, sealed under key
    sa.Column("key", sa.LargeBinary(32), nullable=False),  # deleting the row shreds the draft
)
