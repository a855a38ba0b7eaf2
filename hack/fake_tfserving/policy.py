"""Pure version-selection rules: which versions a model aspires to, and the manager's next action."""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Mapping, Sequence

from .model_config import ModelConfigProto

log = logging.getLogger(__name__)


def aspired_versions(
    model: ModelConfigProto,
    children_by_version: Mapping[int, str],
) -> dict[int, str]:
    """file_system_storage_path_source.cc: latest{num_versions} (default, at least 1), all, specific."""
    policy = model.model_version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return dict(children_by_version)
    if choice == "specific":
        wanted = set(policy.specific.versions)
        if not wanted:
            log.warning("No specific versions requested for servable %s.", model.name)
        found = {v: c for v, c in children_by_version.items() if v in wanted}
        for version in sorted(wanted - set(found)):
            log.warning(
                "Version %d of servable %s, which was requested to be served as a 'specific' version in "
                "the servable's version policy, was not found in the file system",
                version,
                model.name,
            )
        return found
    count = max(policy.latest.num_versions, 1) if choice == "latest" else 1
    newest = sorted(children_by_version, reverse=True)[:count]
    return {v: children_by_version[v] for v in newest}


class Phase(enum.Enum):
    NEW = "new"  # aspired, not yet loaded (state START)
    BUSY = "busy"  # loading or unloading
    READY = "ready"  # AVAILABLE
    DONE = "done"  # failed or unloaded (state END)


@dataclasses.dataclass(frozen=True)
class VersionSnapshot:
    version: int
    phase: Phase
    is_aspired: bool


class Action(enum.Enum):
    LOAD = "load"
    UNLOAD = "unload"


def next_action(versions: Sequence[VersionSnapshot]) -> tuple[Action, int] | None:
    """availability_preserving_policy.cc GetNextAction: never leave a model with nothing serving.

    Unload the lowest un-aspired serving version when no version is aspired, or an aspired one is
    serving, or more than one un-aspired version serves; otherwise load the highest new aspired one.
    So a new version loads before the old one unloads.
    """
    has_aspired = any(v.is_aspired for v in versions)
    has_aspired_serving = any(v.is_aspired and v.phase is Phase.READY for v in versions)
    unaspired_serving = [v.version for v in versions if not v.is_aspired and v.phase is Phase.READY]
    if unaspired_serving and (not has_aspired or has_aspired_serving or len(unaspired_serving) > 1):
        return Action.UNLOAD, min(unaspired_serving)
    new_aspired = [v.version for v in versions if v.is_aspired and v.phase is Phase.NEW]
    if new_aspired:
        return Action.LOAD, max(new_aspired)
    return None
