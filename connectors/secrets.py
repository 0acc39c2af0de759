"""Secrets in the environment: which variables hold them, and masking them wherever text is shown.

A variable is secret when its name says so (``…_TOKEN``, ``…_SECRET``, ``…_PASSWORD``, ``…_KEY``,
``…_KEYS``, ``…_CREDENTIALS``) or when its value is a URL carrying a password (a database URL).
"""

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

MASK = "***"
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|KEY|KEYS|CREDENTIALS?)$")
# Shorter values would mask ordinary words and digits in unrelated text.
_MIN_SECRET_LENGTH = 4


def is_secret_name(name: str) -> bool:
    """Tell whether an environment variable's name marks it as a secret.

    Args:
        name: The variable name.

    Returns:
        True for names ending in TOKEN, SECRET, PASSWORD, KEY, KEYS or CREDENTIALS.
    """
    return bool(_SECRET_NAME.search(name.upper()))


def url_password(value: str) -> str | None:
    """Return the password inside a URL (``scheme://user:password@host/…``), if it holds one.

    Args:
        value: Any text.

    Returns:
        The password, or None.
    """
    if "://" not in value:
        return None
    try:
        return urlsplit(value.strip()).password
    except ValueError:
        return None


def masked(name: str, value: str) -> str:
    """Render an environment variable's value safe to show.

    Args:
        name: The variable name.
        value: Its value.

    Returns:
        ``***`` for a secret variable that is set, the URL with its password masked, or the value.
    """
    if not value:
        return value
    if is_secret_name(name):
        return MASK
    password = url_password(value)
    return value.replace(f":{password}@", f":{MASK}@") if password else value


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """List the secret values present in the environment, longest first.

    Args:
        environ: The environment (default: ``os.environ``).

    Returns:
        Values of secret-named variables and passwords inside URL values.
    """
    environ = os.environ if environ is None else environ
    found = set()
    for name, value in environ.items():
        candidates = [value] if is_secret_name(name) else []
        candidates.append(url_password(value) or "")
        found.update(v for v in candidates if len(v) >= _MIN_SECRET_LENGTH)
    return sorted(found, key=len, reverse=True)


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace every secret value of the environment found in ``text`` with ``***``.

    Args:
        text: A message, traceback or rendered value.
        environ: The environment (default: ``os.environ``).

    Returns:
        The text without secrets.
    """
    for secret in secret_values(environ):
        text = text.replace(secret, MASK)
    return text
