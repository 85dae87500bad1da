"""The web app, mounted on the officer listener under ``/app/``: one module per area.

* ``app`` — the Application: middleware (headers, sessions, CSRF), sign-in, language,
  static files; ``context`` — what the page modules share (rendering, refusals, labels);
* ``pages_messages`` (dashboard, lists), ``pages_actions`` (the message page and its
  actions), ``pages_cases``, ``pages_handover`` (the steps of a handover), ``pages_compose``,
  ``pages_alerts`` (the live alert stream), ``pages_stats``, ``pages_audit``,
  ``pages_admin``, ``pages_account`` (every user's own password).

Server-rendered pages (Jinja2, autoescape on); the small script in ``views/static/`` only
enhances what already works without it. Every page:

* needs a live server-side session (``gateway.store.web``; idle timeout and absolute
  lifetime from ``web_session_idle_minutes`` / ``web_session_lifetime_hours`` in the
  config, defaults ``IDLE_MS`` and ``LIFETIME_MS``; revocable), found by the ``blo_session`` cookie
  (``HttpOnly``, ``SameSite=Strict``, ``Secure`` when served over TLS, path ``/app/``);
* answers with a strict Content-Security-Policy (no inline script or style, nothing from
  elsewhere), frame denial, ``Cache-Control: no-store``, no referrer;
* takes a POST only with the session's CSRF token (the sign-in form: with the token of a
  pre-session cookie), and records every refusal in the audit log;
* speaks the user's language (vi or zh, switchable on every page; every string from the
  glossary, schema labels from the descriptors) and shows times in the office's zone,
  the zone named.

Roles (``gateway.node.roles``): an ``officer`` composes, sends, opens and acts on messages;
a ``border_guard`` the same for repatriation notices and handover records only (lists, cases
and compose show nothing else; ``web.policy`` guards the compose form); a ``supervisor``
reads everything and every case of the office (``/app/cases``), and sends nothing;
``auditor`` and ``admin`` see lists, cases and the dashboard (metadata) and get 403 — logged —
on content. Statistics: officer, supervisor and auditor; the auditor pages: auditor; the
admin pages: admin. Every form that sends a message carries an idempotency key
(``web.keyed``).
URLs carry ids and codes only, never personal data (a filter by case reference is a
query parameter of a GET; case references are codes, not names).
"""

from gateway.node.web.app import build_web_app
from gateway.node.web.context import IDLE_MS, LIFETIME_MS, PREFIX

__all__ = ["IDLE_MS", "LIFETIME_MS", "PREFIX", "build_web_app"]
