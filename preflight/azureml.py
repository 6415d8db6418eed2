"""The Azure ML workspace a project targets: ``--workspace`` or the config file ``MLClient.from_config()`` reads.

Azure ML projects carry a ``.azureml/config.json`` (the portal's "download config.json", ``Workspace.write_config()``)
that the SDK finds by searching upwards from the working directory. Reading the same file the same way means
preflight checks the workspace the user's code will actually use, with no extra flag. The search is azure-ai-ml's
(``MLClient.from_config``, sdk/ml/azure-ai-ml/azure/ai/ml/_ml_client.py in Azure/azure-sdk-for-python): by
priority ``.azureml/``, ``aml_config/`` then the directory itself, ``config.json`` before the legacy
``project.json``, each from the working directory up through 20 parents — so a ``.azureml/config.json`` several
levels up beats a plain ``config.json`` here. A plain ``config.json`` / ``project.json`` is so common a name that
one without the SDK's keys (``Scope``, or ``subscription_id`` + ``resource_group`` + ``workspace_name``) is passed
over rather than refused: the user may not be using Azure ML at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from preflight.errors import TargetError
from preflight.guid import GUID

CONFIG = Path(".azureml") / "config.json"
CONFIG_MAX_BYTES = 64 * 1024
CONFIG_KEYS = ("subscription_id", "resource_group", "workspace_name")
# azure-ai-ml's order: product((".azureml", "aml_config", None), ("config.json", "project.json")), 20 levels up
SEARCH_ORDER = tuple(
    (folder, name) for folder in (".azureml", "aml_config", "") for name in ("config.json", "project.json")
)
SEARCH_LEVELS = 20
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
    """The config file ``MLClient.from_config()`` would read, searching from ``start`` (see the module docstring);
    a plain ``config.json`` / ``project.json`` only when it carries the SDK's keys."""
    directories = (start, *start.parents)[: SEARCH_LEVELS + 1]
    for folder, name in SEARCH_ORDER:
        for directory in directories:
            candidate = directory / folder / name if folder else directory / name
            if candidate.is_file() and (folder or _looks_like_ml_config(candidate)):
                return candidate
    return None


def _looks_like_ml_config(path: Path) -> bool:
    """Whether a plain ``config.json`` is an Azure ML one: a JSON object with ``Scope`` or one of the three keys."""
    from preflight.target import JsonInputError, read_json_file

    try:
        data = read_json_file(path, max_bytes=CONFIG_MAX_BYTES)
    except (JsonInputError, OSError):
        return False
    return isinstance(data, dict) and any(key in data for key in ("Scope", *CONFIG_KEYS))


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
    scope = data.get("Scope")  # the SDK reads this key only, and prefers it to the three below
    if isinstance(scope, str) and scope:
        return parse_workspace(scope, str(path))
    missing = [k for k in CONFIG_KEYS if not isinstance(data.get(k), str) or not data.get(k)]
    if missing:
        raise TargetError(
            f"{path}: missing {', '.join(missing)}",
            remediation="download config.json again from the workspace's overview page",
        )
    return parse_workspace(
        workspace_id(data["subscription_id"], data["resource_group"], data["workspace_name"]), str(path)
    )


def resolve_workspace(flag: str | None, cwd: Path | None = None) -> WorkspaceRef | None:
    """``--workspace`` when given, else the config file ``MLClient.from_config()`` would read from ``cwd``, else
    None."""
    if flag:
        return parse_workspace(flag)
    found = find_config(cwd or Path.cwd())
    return read_config(found) if found else None
