"""The Argo CD health check, run with a real Lua interpreter on statuses the operator writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

lupa = pytest.importorskip("lupa")

ARGO = Path(__file__).parents[2] / "manifests" / "argocd"


def health(obj: dict[str, Any]) -> tuple[str, str]:
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)

    def to_lua(value: Any) -> Any:
        if isinstance(value, dict):
            return lua.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return lua.table_from([to_lua(v) for v in value])
        return value

    lua.globals().obj = to_lua(obj)
    result = lua.execute((ARGO / "health.lua").read_text())
    return result["status"], result["message"]


def sm(generation: int = 2, observed: int = 2, **conds: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "status": {
            "observedGeneration": observed,
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": m} for t, (s, r, m) in conds.items()
            ],
        },
    }


def test_healthy_when_serving_and_idle() -> None:
    obj = sm(
        Ready=("True", "Serving", "2 replica(s) serving"),
        Promoting=("False", "Idle", "serving"),
        Degraded=("False", "AsExpected", ""),
        Exported=("True", "AllVersionsExported", ""),
    )
    assert health(obj) == ("Healthy", "2 replica(s) serving")


def test_progressing_while_promoting_or_exporting_or_not_yet_observed() -> None:
    assert health(sm(Promoting=("True", "Loading", "loading version(s) 4")))[0] == "Progressing"
    assert health(sm(Exported=("False", "Exporting", "exporting version(s) 2")))[0] == "Progressing"
    assert health(sm(generation=3, observed=2, Ready=("True", "Serving", "")))[0] == "Progressing"
    assert health({"metadata": {"generation": 1}})[0] == "Progressing"


def test_degraded_on_a_failed_rollout_or_unschedulable_pods() -> None:
    status, message = health(sm(Degraded=("True", "LoadFailed", "version 4 failed to load")))
    assert (status, message) == ("Degraded", "version 4 failed to load")
    assert health(sm(Ready=("False", "Unschedulable", "Insufficient nvidia.com/gpu")))[0] == "Degraded"


def test_the_configmap_patch_carries_the_same_script() -> None:
    patch = yaml.safe_load((ARGO / "argocd-cm-patch.yaml").read_text())
    script = patch["data"]["resource.customizations.health.tfserving.dev_ServedModel"]
    assert script == (ARGO / "health.lua").read_text()
