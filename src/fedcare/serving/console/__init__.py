"""The fedcare console: web pages on ``fedcare serve`` under ``/console``.

Server-rendered Jinja2 templates, one small script and inline SVG charts, all packaged
with fedcare (no CDN, no build step, works offline). Accounts with roles (admin, study
lead, site steward, clinician, read-only), argon2id passwords, signed HttpOnly session
cookies backed by the registry, CSRF tokens on every form, a login rate limit.
"""

from fedcare.serving.console._pages import mount_console

__all__ = ["mount_console"]
