"""The web app: officers, auditors and admins in a browser, in Vietnamese or Chinese.

``app`` (routes under ``/app/`` of the officer listener), ``auth`` (passwords, TOTP,
delays, session ids, CSRF tokens), ``store`` (credentials and sessions tables, page
queries), ``forms`` (compose forms generated from the protobuf descriptors), ``users``
(the CLI's password and second-factor commands), ``templates/`` and ``static/``.

(Named ``webapp`` because ``gateway/web.py``, the HTTP apps' shared middleware, holds the
name ``gateway.web`` until the layer packages move it.)
"""
