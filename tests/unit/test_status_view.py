from __future__ import annotations

from tfserving_operator.status_view import format_status


def test_status_shows_live_labels_per_replica_and_the_rollout_step() -> None:
    body = {
        "metadata": {"name": "vit", "namespace": "ml", "generation": 4},
        "spec": {"labels": {"stable": 2, "canary": 2}},
        "status": {
            "observedGeneration": 4,
            "liveLabels": {"stable": 1, "canary": 2},
            "replicaSummary": "2/2",
            "rollout": {
                "phase": "MovingLabels",
                "step": "moving labels: stable 1->2",
                "since": "2026-11-21T10:00:00Z",
            },
            "servers": [
                {
                    "pod": "vit-serving-a",
                    "ready": True,
                    "labels": {"stable": 2, "canary": 2},
                    "versions": {"1": "AVAILABLE", "2": "AVAILABLE"},
                },
                {"pod": "vit-serving-b", "ready": True, "reachable": False, "labels": {}, "versions": {}},
            ],
            "conditions": [
                {"type": "Promoting", "status": "True", "reason": "MovingLabels", "message": "moving"}
            ],
        },
    }
    text = format_status(body)
    assert "Labels in spec:      canary=2 stable=2" in text
    assert "Labels live on all:  canary=2 stable=1" in text
    assert "MovingLabels: moving labels: stable 1->2" in text
    assert "vit-serving-a  yes" in text and "canary=2 stable=2" in text and "1:AVAILABLE 2:AVAILABLE" in text
    assert "yes (unreachable)" in text
    assert "Promoting  True   MovingLabels: moving" in text
