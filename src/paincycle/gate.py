"""Who may reach the app at all, decided before any page runs: fail closed.

Two ways in, both chosen by the deployment:

- **local**: ``PAINCYCLE_ACCESS=local`` (what `make run` sets) and no sign-in
  configuration anywhere. One user on this computer, who acts as admin. The
  server must be bound to a loopback address, named exactly, and every request
  must be addressed to a loopback host name (a web page that rebinds its own
  name to 127.0.0.1 sends its own name, and is refused).
- **sign-in**: an ``[auth]`` section in Streamlit's secrets (and
  ``PAINCYCLE_ACCESS`` unset or ``sign-in``): OpenID Connect and a roles file.

Anything else refuses everyone with the reason: no choice made, both chosen,
a secrets file that cannot be read, an address off this computer in local
mode, a Host header that is not this computer's or not in
``PAINCYCLE_ALLOWED_HOSTS``. A broken secrets file never means "not configured".
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from paincycle.config import AccessMode, Settings, SettingsError

#: Addresses a local-mode server may listen on, spelled out: "" and 0.0.0.0 mean every interface.
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Door(StrEnum):
    LOCAL = "local"
    SIGN_IN = "sign-in"
    REFUSED = "refused"


@dataclass(frozen=True)
class Decision:
    """The way in, or REFUSED with a reason fit to show (it never repeats request text)."""

    door: Door
    reason: str = ""


@dataclass(frozen=True)
class SecretsState:
    """What Streamlit's secrets files say about sign-in, read by us, not guessed from a log."""

    has_auth: bool
    problem: str | None = None


def read_secrets(paths: Iterable[str | Path]) -> SecretsState:
    """Parse each secrets file that exists; any that cannot be read is a problem, not "absent"."""
    has_auth = False
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            continue
        try:
            parsed = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            # only the file's name and the line: a visitor learns neither the path nor a secret
            line = re.search(r"at line (\d+)", str(exc)) if isinstance(exc, ValueError) else None
            at = f" (line {line.group(1)})" if line else ""
            return SecretsState(has_auth, f"the secrets file {path.name} cannot be read{at}")
        if parsed.get("auth"):
            has_auth = True
    return SecretsState(has_auth)


def host_name(host_header: str) -> str:
    """The name in a Host header, without the port: ``[::1]:8501`` -> ``::1``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def decide(environ: Mapping[str, str] | None, secrets: SecretsState, *, server_address: str | None,
           request_headers: Mapping[str, str] | None) -> Decision:
    """The door for one request.

    ``request_headers`` empty or None means the script runs with no HTTP client
    (a test harness or a bare run), which no browser can produce: a browser
    always sends Host.
    """
    try:
        settings = Settings.from_environ(environ)
    except SettingsError as exc:
        return Decision(Door.REFUSED, f"{exc}. Nobody is let in until it is fixed.")
    if secrets.problem:
        return Decision(Door.REFUSED, f"Sign-in cannot be checked: {secrets.problem}. "
                                      "Nobody is let in until the administrator fixes it.")
    host_problem = _host_problem(settings, request_headers)
    if settings.access is AccessMode.LOCAL:
        if secrets.has_auth:
            return Decision(Door.REFUSED, "PAINCYCLE_ACCESS=local was chosen, but sign-in is "
                            "configured in the secrets file: remove one of the two.")
        if (server_address or "").strip().lower() not in LOOPBACK_ADDRESSES:
            return Decision(Door.REFUSED, "Local single-user mode only serves this computer, but "
                            "the server is not bound to 127.0.0.1 (it listens on "
                            f"{(server_address or '').strip() or 'every interface'}). "
                            "Run `make run`, or configure sign-in (docs/deployment.md).")
        if host_problem or not _addressed_to_loopback(request_headers):
            return Decision(Door.REFUSED, "This request was not addressed to this computer "
                            "(127.0.0.1 or localhost), so local mode does not answer it.")
        return Decision(Door.LOCAL)
    if settings.access is AccessMode.SIGN_IN or secrets.has_auth:
        if not secrets.has_auth:
            return Decision(Door.REFUSED, "PAINCYCLE_ACCESS=sign-in was chosen, but the secrets "
                            "file has no [auth] section, so nobody can sign in.")
        if host_problem:
            return Decision(Door.REFUSED, host_problem)
        return Decision(Door.SIGN_IN)
    return Decision(Door.REFUSED, "Neither sign-in nor local mode is configured, so PainCycle "
                    "lets nobody in. For one user on this computer run `make run` "
                    "(PAINCYCLE_ACCESS=local); for a team configure sign-in (docs/deployment.md).")


def _host_problem(settings: Settings, headers: Mapping[str, str] | None) -> str | None:
    if not headers or not settings.allowed_hosts:
        return None
    host = host_name(_header(headers, "host") or "")
    if host not in settings.allowed_hosts:
        return ("This request was addressed to a host name PainCycle does not serve "
                "(PAINCYCLE_ALLOWED_HOSTS).")
    return None


def _addressed_to_loopback(headers: Mapping[str, str] | None) -> bool:
    if not headers:
        return True  # no HTTP client at all (see decide)
    host = _header(headers, "host")
    return bool(host) and host_name(host) in LOOPBACK_HOSTS


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
