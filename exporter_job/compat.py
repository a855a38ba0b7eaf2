"""Signature compatibility between an earlier version and a new export (`--compatible-with`).

A client written against the old version must keep working: TF Serving's Predict rejects a request that
lacks a signature input or names an unknown one, so inputs must match exactly by name and dtype, and each
new input shape must accept every old shape. Outputs may be added, never removed or changed.
"""

from __future__ import annotations

from exporter_job.manifest import SignatureDesc, TensorDesc


def _accepts(new: TensorDesc, old: TensorDesc) -> bool:
    """True if every tensor that fits `old` also fits `new`."""
    if new.shape is None:
        return True
    if old.shape is None or len(old.shape) != len(new.shape):
        return False
    return all(n is None or n == o for n, o in zip(new.shape, old.shape, strict=True))


def signature_diff(old: dict[str, SignatureDesc], new: dict[str, SignatureDesc]) -> list[str]:
    """One line per incompatible change, e.g. "signature 'x', input 'a': dtype float32 -> int32"."""
    problems: list[str] = []
    for name, old_sig in sorted(old.items()):
        new_sig = new.get(name)
        if new_sig is None:
            problems.append(f"signature {name!r}: removed (new signatures: {sorted(new)})")
            continue
        where = f"signature {name!r}"
        for tensor, old_t in sorted(old_sig.inputs.items()):
            new_t = new_sig.inputs.get(tensor)
            if new_t is None:
                problems.append(f"{where}, input {tensor!r}: removed ({old_t.render()} -> absent)")
            elif new_t.dtype != old_t.dtype:
                problems.append(f"{where}, input {tensor!r}: dtype {old_t.dtype} -> {new_t.dtype}")
            elif not _accepts(new_t, old_t):
                problems.append(f"{where}, input {tensor!r}: shape {old_t.render()} -> {new_t.render()}")
        for tensor, new_t in sorted(new_sig.inputs.items()):
            if tensor not in old_sig.inputs:
                problems.append(
                    f"{where}, input {tensor!r}: added (absent -> {new_t.render()}), old clients omit it"
                )
        for tensor, old_t in sorted(old_sig.outputs.items()):
            new_t = new_sig.outputs.get(tensor)
            if new_t is None:
                problems.append(f"{where}, output {tensor!r}: removed ({old_t.render()} -> absent)")
            elif new_t.dtype != old_t.dtype:
                problems.append(f"{where}, output {tensor!r}: dtype {old_t.dtype} -> {new_t.dtype}")
            elif not _accepts(old_t, new_t):
                problems.append(f"{where}, output {tensor!r}: shape {old_t.render()} -> {new_t.render()}")
    return problems
