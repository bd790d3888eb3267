"""Where settings are read from: a mapping of environment variables, and a `.env` file. No knowledge of
the settings themselves (that is config.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic_settings import BaseSettings, EnvSettingsSource


class EnvMappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of `os.environ`.

    Values are stripped, and an empty one counts as unset (so `ES_URL=` in a file means "no URL").
    """

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]):
        self._env = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str]:
        values = {(name if self.case_sensitive else name.lower()): value.strip() for name, value in self._env.items()}
        return {name: value for name, value in values.items() if value}


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables a `.env` file sets; none when there is no file."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {name: value for name, value in dotenv_values(path).items() if value is not None}
