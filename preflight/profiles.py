"""Profiles: what an intended use needs — token audiences, required actions, the least-privilege role.

Kept as data (profiles.json) so adding a use is an edit, not code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from preflight.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Requirement:
    action: str
    data: bool  # a data action (dataActions) or a management action (actions)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    description: str
    kinds: tuple[str, ...]
    audiences: tuple[str, ...]  # names of Cloud audiences: "arm", "cognitive", "ml", "ai", "graph"
    requirements: tuple[Requirement, ...]
    role_id: str  # GUID: roles are identified by id, names are only for display (roles get renamed)
    role_name: str


@cache
def profiles() -> dict[str, Profile]:
    raw = json.loads(resources.files("preflight").joinpath("profiles.json").read_text(encoding="utf-8"))
    return {
        name: Profile(
            name=name,
            description=item["description"],
            kinds=tuple(item["kinds"]),
            audiences=tuple(item["audiences"]),
            requirements=tuple(Requirement(r["action"], bool(r["data"])) for r in item["requirements"]),
            role_id=item["role"]["id"],
            role_name=item["role"]["name"],
        )
        for name, item in raw.items()
    }


def get_profile(name: str) -> Profile:
    try:
        return profiles()[name]
    except KeyError:
        raise ConfigError(f"unknown profile {name!r}; known profiles: {', '.join(profiles())}") from None


def profile_for_kind(kind: str | None) -> Profile:
    """The default profile for a resource kind (an OpenAI account → ``openai``)."""
    for profile in profiles().values():
        if kind and kind.lower() in (k.lower() for k in profile.kinds):
            return profile
    return profiles()["openai"]
