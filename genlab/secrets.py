"""Keep secrets out of everything genlab prints or writes.

An API key is remembered when it is read (`remember`), and every error line, log line and file
that could echo a server's words passes through `redact`: remembered keys, the password of a
URL (`http://user:pass@host`) and the token after "Bearer" become "***". Redacting is cheap and
idempotent, so a path that is unsure redacts again.
"""

from __future__ import annotations

import re

HIDDEN = "***"
_remembered: set[str] = set()

# scheme://user:password@host  ->  scheme://user:***@host ; scheme://token@host -> scheme://***@host
# (up to the last "@" of the authority, as urlsplit reads it: a password may hold "@")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/\s:]*)(?::[^/\s]*)?@")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\"]+")
_MIN_SECRET = 4  # shorter "keys" would redact ordinary words; refusing them is the client's job


def remember(secret: str | None) -> None:
    """Note a secret (an API key as read from the environment) so `redact` hides it anywhere.
    Its printable parts are remembered too, so a key split by a control character is hidden."""
    if not secret:
        return
    for part in [secret, *re.split(r"[\x00-\x1f\x7f]+", secret)]:
        part = part.strip()
        if len(part) >= _MIN_SECRET:
            _remembered.add(part)


def redact(text: str) -> str:
    """`text` with every remembered secret, URL password and Bearer token replaced by ***."""
    if not text:
        return text
    for secret in sorted(_remembered, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, HIDDEN)
        text = _redact_escaped(text, secret)
    text = _URL_CREDENTIALS.sub(_hide_url_credentials, text)
    return _BEARER.sub(lambda m: m.group(1) + HIDDEN, text)


def redact_url(url: str) -> str:
    """A URL fit to print: its password (or lone token) hidden."""
    return _URL_CREDENTIALS.sub(_hide_url_credentials, url)


def _hide_url_credentials(m: re.Match[str]) -> str:
    userinfo = m.group(0)[len(m.group("scheme")):-1]
    if ":" not in userinfo:
        return f"{m.group('scheme')}{HIDDEN}@"  # a lone token in the user part is a secret too
    return f"{m.group('scheme')}{m.group('user')}:{HIDDEN}@"


def _redact_escaped(text: str, secret: str) -> str:
    """Also hide the secret as Python's repr of bytes or str would show it (b'Bearer sk-\\r\\n')."""
    escaped = secret.encode("unicode_escape").decode("ascii")
    if escaped != secret and escaped in text:
        text = text.replace(escaped, HIDDEN)
    return text
