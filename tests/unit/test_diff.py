from __future__ import annotations

from tfserving_operator.diff import contains


def test_defaults_added_by_the_server_do_not_count_as_drift() -> None:
    live = {"spec": {"ports": [{"name": "grpc", "port": 8500, "protocol": "TCP"}], "type": "ClusterIP"}}
    assert contains(live, {"spec": {"ports": [{"name": "grpc", "port": 8500}]}})


def test_quantities_compare_by_value() -> None:
    assert contains({"cpu": "500m", "memory": "8Gi", "gpu": "1"}, {"cpu": "0.5", "memory": "8Gi", "gpu": "1"})
    assert not contains({"cpu": "1"}, {"cpu": "2"})


def test_a_changed_or_removed_field_is_drift() -> None:
    assert not contains({"image": "a:1"}, {"image": "a:2"})
    assert not contains({"metadata": {"labels": {}}}, {"metadata": {"labels": {"x": "y"}}})
    assert not contains({"args": ["--a", "--b"]}, {"args": ["--a"]})
    assert not contains({"name": "1.0"}, {"name": "x"})


def test_status_leaves_out_empty_maps_which_server_side_apply_would_null() -> None:
    from tfserving_operator.apply import without_empty

    status = {
        "liveLabels": {},
        "servers": [{"pod": "a", "labels": {}, "versions": {"1": "AVAILABLE"}}],
        "x": 0,
    }
    assert without_empty(status) == {"servers": [{"pod": "a", "versions": {"1": "AVAILABLE"}}], "x": 0}
