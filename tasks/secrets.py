"""Secrets from Prefect Secret blocks: `VIVIER_SMTP_PASSWORD_BLOCK=vivier-smtp-password` and its
siblings name a block whose value replaces the environment's (the core never imports Prefect:
this module completes the settings for it: tasks/__init__.py registers it for every Prefect
process, `vivier` verbs and the web app call it when they load their settings).

    prefect block create secret        # or, in Python:
    Secret(value="…").save("vivier-smtp-password")
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from sqlalchemy import make_url

from vivier.settings import Settings, SettingsError

_FIELDS = {  # setting naming the block -> setting it fills
    "smtp_password_block": "smtp_password",
    "secret_key_block": "secret_key",
    "webhook_secret_block": "webhook_secret",
}


def read_secret(block: str, variable: str) -> str:
    """The value of Prefect Secret block `block`; a clear error naming `variable` otherwise."""
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(block, _sync=True).get()  # type: ignore[call-arg,union-attr]
    except ValueError as problem:
        raise SettingsError(f"{variable}={block!r}: no Prefect Secret block of that name "
                            f"({type(problem).__name__}); create it with `prefect block create secret` "
                            "or unset the variable") from None
    except Exception as problem:  # the API unreachable, a block of another type…
        raise SettingsError(f"{variable}={block!r}: the Prefect Secret block cannot be read "
                            f"({type(problem).__name__}); check PREFECT_API_URL") from None
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{variable}={block!r}: the block holds no text secret")
    return value


def with_prefect_secrets(settings: Settings) -> Settings:
    """`settings` with every secret named by a `*_BLOCK` setting read from Prefect; unchanged
    (the same object) when none is named, so nothing calls Prefect for nothing."""
    update: dict[str, Any] = {}
    for name, target in _FIELDS.items():
        block = getattr(settings, name)
        if block:
            update[target] = SecretStr(read_secret(block, f"VIVIER_{name.upper()}"))
    if settings.database_password_block:
        password = read_secret(settings.database_password_block, "VIVIER_DATABASE_PASSWORD_BLOCK")
        url = make_url(settings.database_url).set(password=password)
        update["database_url"] = url.render_as_string(hide_password=False)
    return settings.model_copy(update=update) if update else settings
