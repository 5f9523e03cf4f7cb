"""`tally config`: the effective settings under the names of their variables, as an env
file that can be pasted back (unset ones commented out) or as JSON. Only secrets are
masked: the password in a URL (the rest of it is shown), and the values of the password,
token and API token settings."""

from typing import Any

from pydantic import SecretStr

from tally.database_url import validate_database_url
from tally.env_file import env_line
from tally.redaction import MASK, mask_url
from tally.settings import Settings, env_name


def _shown(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        return mask_url(validate_database_url(secret)) if field.endswith("_url") else MASK
    if isinstance(value, bool):
        return "true" if value else "false"
    return mask_url(str(value))


def settings_values(settings: Settings) -> dict[str, str | None]:
    """Variable name -> the value shown (None: unset), in the settings' own order."""
    return {
        env_name(field): _shown(field, getattr(settings, field)) for field in Settings.model_fields
    }


def settings_lines(settings: Settings) -> list[str]:
    lines = []
    for name, value in settings_values(settings).items():
        lines.append(f"# {name}=" if value is None else env_line(name, value))
    return lines


def settings_json(settings: Settings) -> dict[str, Any]:
    """Variable name -> value as JSON (numbers and booleans as such, secrets masked)."""
    dumped = settings.model_dump(mode="json")
    shown: dict[str, Any] = {}
    for field in Settings.model_fields:
        value = getattr(settings, field)
        masked = isinstance(value, SecretStr | str)
        shown[env_name(field)] = _shown(field, value) if masked else dumped[field]
    return shown
