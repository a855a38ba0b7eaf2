"""`servedmodel` (also `kubectl servedmodel`): validate and render ServedModels without a cluster."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from .children import Manifest, serving_children
from .exports import export_job
from .rollout import goal_for, next_stage
from .settings import OperatorSettings
from .spec import ServedModel, parse_servedmodel
from .validation import Problem, validate_document, with_defaults


class InputError(Exception):
    """The input file cannot be read as YAML; the message names the file and line."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML would silently keep the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key] + 1}); keep only one",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (config files) as literal blocks, so rendered ConfigMaps stay readable."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(objects: Sequence[Manifest]) -> str:
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


@dataclass(frozen=True)
class Document:
    index: int
    line: int
    body: Any


def read_documents(path: str) -> list[Document]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror}") from err
    docs: list[Document] = []
    try:
        loader = _StrictLoader(text)
        try:
            index = 0
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    break
                body = loader.construct_document(node)
                if body is not None:
                    docs.append(Document(index, node.start_mark.line + 1, body))
                index += 1
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = err.problem or err.context or "malformed YAML"
        raise InputError(f"{path}: {where}: {problem}") from err
    if not docs:
        raise InputError(f"{path}: no YAML document found; expected a ServedModel")
    return docs


def _doc_name(doc: Document) -> str:
    meta = doc.body.get("metadata") if isinstance(doc.body, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return f"document {doc.index + 1} (line {doc.line})" + (f", ServedModel {name}" if name else "")


def _report(path: str, doc: Document, problems: Sequence[Problem], out: TextIO) -> None:
    print(f"{path}: {_doc_name(doc)} is invalid:", file=out)
    for problem in problems:
        print(f"  - {problem.render()}", file=out)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        docs = read_documents(args.file)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    bad = 0
    for doc in docs:
        problems = validate_document(doc.body)
        if problems:
            bad += 1
            _report(args.file, doc, problems, sys.stderr)
        else:
            print(f"{args.file}: {_doc_name(doc)} is valid")
    return 1 if bad else 0


def render_objects(
    body: dict[str, Any], settings: OperatorSettings, namespace: str | None = None, owner_uid: str = ""
) -> list[Manifest]:
    """What the operator applies for a new ServedModel, before anything exists in the cluster.

    Offline there is no storage to check, so every listed version is taken as complete and every
    version with an `export` gets its export Job.
    """
    stored = with_defaults(body)
    if namespace:
        stored["metadata"]["namespace"] = namespace
    sm: ServedModel = parse_servedmodel(stored)
    if owner_uid:
        sm = ServedModel(sm.name, sm.namespace, owner_uid, sm.generation, sm.spec)
    goal = goal_for(sm.spec.labels, sm.spec.version_numbers, None, sm.spec.rollout.keep_previous_stable)
    decision = next_stage(goal, None, [])
    objects = serving_children(sm, decision.stage, settings)
    objects += [export_job(sm, v.version, v.export, settings) for v in sm.spec.versions if v.export]
    if not owner_uid:
        for obj in objects:
            obj["metadata"].pop("ownerReferences", None)
    return objects


def cmd_render(args: argparse.Namespace) -> int:
    try:
        docs = read_documents(args.file)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    settings = OperatorSettings.from_env()
    rendered: list[Manifest] = []
    for doc in docs:
        problems = validate_document(doc.body)
        if problems:
            _report(args.file, doc, problems, sys.stderr)
            return 1
        rendered += render_objects(doc.body, settings, args.namespace, args.owner_uid)
    if not args.owner_uid:
        print(
            "# ownerReferences are left out: the operator adds them with the ServedModel's uid "
            "(pass --owner-uid to include them)."
        )
    print(dump_yaml(rendered), end="")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from .promote import PromoteError, promote_in_file

    try:
        move = promote_in_file(Path(args.file), args.name, args.label, args.version, args.from_label)
    except (PromoteError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if move.before == move.after:
        print(f"{args.file}: {move.describe()} (unchanged)")
    else:
        print(f"{args.file}: {move.describe()}")
        print("Commit and merge this change; the operator then moves the label stage by stage.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from . import kube
    from .status_view import format_status

    try:
        api = kube.KubeApi(kube.load_api_client(args.kubeconfig))
        body = api.get(kube.SERVED_MODEL, args.namespace, args.name)
    except Exception as err:  # no kubeconfig, unreachable cluster, RBAC
        print(f"error: cannot read ServedModel {args.namespace}/{args.name}: {err}", file=sys.stderr)
        return 2
    if body is None:
        print(f"error: ServedModel {args.namespace}/{args.name} not found", file=sys.stderr)
        return 1
    print(format_status(body), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="servedmodel",
        description="Work with ServedModel resources (TF Serving on Kubernetes).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check ServedModel files the way the API server will")
    p.add_argument(
        "-f", "--file", required=True, help="YAML file with one or more ServedModels ('-' = stdin)"
    )
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("render", help="print every object the operator would create, without a cluster")
    p.add_argument(
        "-f", "--file", required=True, help="YAML file with one or more ServedModels ('-' = stdin)"
    )
    p.add_argument("-n", "--namespace", help="namespace to render into (default: the file's, else default)")
    p.add_argument("--owner-uid", default="", help="the ServedModel's uid, to include ownerReferences")
    p.set_defaults(func=cmd_render)
    p = sub.add_parser(
        "promote",
        help="edit a ServedModel file in place to move a label (default: stable to where canary is)",
    )
    p.add_argument("name", help="the ServedModel's metadata.name")
    p.add_argument("-f", "--file", required=True, help="the YAML file to edit (comments and layout are kept)")
    p.add_argument("--label", default="stable", help="the label to move (default: stable)")
    p.add_argument("--version", type=int, help="the version to point it at (default: the --from-label's)")
    p.add_argument("--from-label", default="canary", help="where to take the version from (default: canary)")
    p.set_defaults(func=cmd_promote)
    p = sub.add_parser("status", help="live labels per replica, the rollout step and conditions")
    p.add_argument("name", help="the ServedModel's metadata.name")
    p.add_argument("-n", "--namespace", default="default")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
