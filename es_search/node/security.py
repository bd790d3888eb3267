"""Cluster security of the local node: the settings that turn x-pack security on, and its one superuser.

In: the settings (IMGSEARCH_ES_SECURITY, ES_USERNAME, ES_PASSWORD) and a node's layout; out: the lines of
`elasticsearch.yml` about security, and the node's file realm holding that superuser. The distribution
ships x-pack security; with it on, every request needs credentials. HTTP stays plain (no TLS): the node
listens on loopback only, which is what a development or test node needs; a node reached from other
machines needs TLS, which is out of this module's scope. Transport TLS is not set up either, so security
is for a single node (config.py refuses it for a local cluster).

The superuser lives in the node's own file realm (`users`, `users_roles` in its config folder), written at
every start by the distribution's `elasticsearch-users` tool. The password goes to the tool on its standard
input, never on a command line (which any local user may read) nor into a file of ours. Roles and users
for the applications are made through the security API by that superuser (docs/devtools.md, section 9).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pydantic import SecretStr

from es_search.errors import NodeError

# Seconds the user tool may take: a JVM start on a busy machine.
USERS_TOOL_TIMEOUT = 180.0


def security_settings(enabled: bool) -> dict[str, str]:
    """The `elasticsearch.yml` entries about security: off (the default development node), or on without TLS."""
    if not enabled:
        # A development node bound to loopback only; never expose this configuration.
        return {"xpack.security.enabled": "false"}
    return {"xpack.security.enabled": "true", "xpack.security.http.ssl.enabled": "false",
            "xpack.security.transport.ssl.enabled": "false"}


def add_superuser(es_home: Path, config_dir: Path, username: str, password: SecretStr, env: dict[str, str]) -> None:
    """Make `username` the only user of the node's file realm, with the superuser role.

    The realm's files are ours alone, so they are emptied first: a changed ES_PASSWORD takes effect at the
    next start, and a user of an earlier start does not linger. `env` is the server's environment (its Java,
    ES_PATH_CONF pointing at `config_dir`).
    """
    for name in ("users", "users_roles"):
        (config_dir / name).write_text("")
    secret = password.get_secret_value()
    try:
        proc = subprocess.run([str(es_home / "bin" / "elasticsearch-users"), "useradd", username, "-r", "superuser"],
                              input=f"{secret}\n{secret}\n", env=env, capture_output=True, text=True,
                              timeout=USERS_TOOL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NodeError(f"could not run elasticsearch-users to create the node's superuser: {exc}") from None
    if proc.returncode != 0:
        said = (proc.stdout + proc.stderr).replace(secret, "***").strip().splitlines()[-5:]
        raise NodeError(f"could not create the node's superuser {username!r} (elasticsearch-users exit "
                        f"{proc.returncode}): " + " | ".join(said))
