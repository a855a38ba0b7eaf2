"""Does a live object already carry every field the operator wants? (Then no write is needed.)"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from kubernetes.utils import parse_quantity


def _quantity(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        return Decimal(parse_quantity(value))
    except (ValueError, InvalidOperation, TypeError):
        return None


def contains(live: Any, desired: Any) -> bool:
    """True when `live` has every field of `desired` with an equal value.

    The API server adds defaults (so `live` has more fields) and canonicalises quantities
    ("0.5" is stored as "500m"), so quantities are compared by value.
    """
    if isinstance(desired, Mapping):
        return isinstance(live, Mapping) and all(
            key in live and contains(live[key], value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(contains(a, b) for a, b in zip(live, desired, strict=True))
        )
    if live == desired:
        return True
    if isinstance(desired, str) and isinstance(live, str | int):
        a, b = _quantity(live), _quantity(desired)
        return a is not None and a == b
    return False
