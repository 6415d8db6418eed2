"""The Azure ML workspace a project targets: ``--workspace`` or ``.azureml/config.json``.

Azure ML projects carry a ``.azureml/config.json`` (written by the portal's "download config.json" and by
``Workspace.write_config()``) that the SDK finds by searching upwards from the working directory
(``MLClient.from_config()`` / ``Workspace.from_config()``). Reading the same file the same way means preflight
checks the workspace the user's code will actually use, with no extra flag.

Only ``.azureml/config.json`` is considered, not a bare ``config.json`` in some parent directory: the latter
is too common a file name to be trusted as an Azure ML config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from preflight.errors import TargetError
from preflight.guid import GUID

CONFIG = Path(".azureml") / "config.json"
CONFIG_MAX_BYTES = 64 * 1024
WORKSPACE_ID = re.compile(
    r"^/subscriptions/(?P<sub>[0-9a-fA-F-]{36})/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<name>[^/\x00-\x1f]+)\Z",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class WorkspaceRef:
    """A workspace and where it was learnt from (the flag or a config file), for messages."""

    resource_id: str
    source: str


def find_config(start: Path) -> Path | None:
    """The nearest ``.azureml/config.json`` in ``start`` or one of its parents, as the Azure ML SDK searches."""
    for directory in (start, *start.parents):
        candidate = directory / CONFIG
        if candidate.is_file():
            return candidate
    return None


def workspace_id(subscription: str, group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{name}"
    )


def parse_workspace(value: str, source: str = "--workspace") -> WorkspaceRef:
    """A workspace ARM id, validated; raises TargetError (exit 2) naming the expected shape."""
    value = value.strip().rstrip("/")
    match = WORKSPACE_ID.match(value)
    from preflight.target import has_bad_segment

    if not match or not GUID.match(match["sub"]) or has_bad_segment(value):
        raise TargetError(
            f"{source}: {value!r} is not an Azure ML workspace id",
            remediation="expected /subscriptions/<GUID>/resourceGroups/<group>/providers/"
            "Microsoft.MachineLearningServices/workspaces/<name>",
        )
    return WorkspaceRef(value, source)


def read_config(path: Path) -> WorkspaceRef:
    """The workspace named by a config file: ``subscription_id`` + ``resource_group`` + ``workspace_name`` (the
    SDK's keys), or a ``Scope`` ARM id (newer portal downloads). Raises TargetError on a bad file."""
    from preflight.target import JsonInputError, read_json_file

    try:  # bounded: a config is a few hundred bytes; a huge, endless or deeply nested one is bad input
        data = read_json_file(path, max_bytes=CONFIG_MAX_BYTES)
    except JsonInputError as exc:
        raise TargetError(f"{path}: not a readable JSON Azure ML config ({exc})") from exc
    if not isinstance(data, dict):
        raise TargetError(f"{path}: expected a JSON object")
    scope = data.get("Scope") or data.get("scope")
    if isinstance(scope, str) and scope:
        return parse_workspace(scope, str(path))
    keys = ("subscription_id", "resource_group", "workspace_name")
    missing = [k for k in keys if not isinstance(data.get(k), str) or not data.get(k)]
    if missing:
        raise TargetError(
            f"{path}: missing {', '.join(missing)}",
            remediation="download config.json again from the workspace's overview page",
        )
    return parse_workspace(
        workspace_id(data["subscription_id"], data["resource_group"], data["workspace_name"]), str(path)
    )


def resolve_workspace(flag: str | None, cwd: Path | None = None) -> WorkspaceRef | None:
    """``--workspace`` when given, else the nearest ``.azureml/config.json`` above ``cwd``, else None."""
    if flag:
        return parse_workspace(flag)
    found = find_config(cwd or Path.cwd())
    return read_config(found) if found else None
