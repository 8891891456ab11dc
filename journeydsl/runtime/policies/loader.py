"""Reading policy files: YAML with positions, validated by the pydantic model, ``extends``
resolved, every mistake reported as ``file:line:col: error: message`` (never a traceback).

It reuses :mod:`journeydsl.yamlfile`, the loader behind behaviour and scenario files, so
all of journeydsl's YAML inputs report mistakes the same way.

A policy file may come from someone else (a pull request that CI checks), so the files it names
(``extends``, ``do_not_contact.file``) are confined as a journey's catalogs are
(:mod:`journeydsl.confine`): relative to the naming file's folder, inside the root folder (the
top policy file's folder, or ``root=`` / ``--root``), regular files of a bounded size. A refused
file is an error at the line that names it, and is never read nor quoted.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Final

from journeydsl.diagnostics import did_you_mean
from journeydsl.runtime.policies.dnc_lists import UnreadableListError, read_list
from journeydsl.runtime.policies.model import (
    MAX_DO_NOT_CONTACT_BYTES,
    RULE_SECTIONS,
    Policies,
    PolicySet,
    overlay,
)
from journeydsl.yamlfile import (
    FileError,
    InputError,
    YamlDocument,
    load_document,
    named_file,
    validate,
)

__all__ = [
    "BUILTIN_PROFILES",
    "MAX_POLICY_BYTES",
    "FileError",
    "InputError",
    "builtin_profile",
    "load_policies",
]

#: The built-in profiles a policy file can extend.
BUILTIN_PROFILES: tuple[str, ...] = ("vn_decree_91",)

#: The largest policy file read, the one named and each it extends (1 MiB): real ones hold a few
#: kilobytes, so a larger file is a wrong path.
MAX_POLICY_BYTES: Final = 1 << 20


def _builtin_text(name: str) -> str:
    return (
        resources.files("journeydsl.runtime.policies")
        .joinpath("profiles", f"{name}.yaml")
        .read_text(encoding="utf-8")
    )


def builtin_profile(name: str) -> Policies:
    """A built-in profile, e.g. ``vn_decree_91``; KeyError for an unknown name."""
    if name not in BUILTIN_PROFILES:
        raise KeyError(name)
    return _load(Path(f"<builtin:{name}>"), _builtin_text(name), (), None, None)


def load_policies(
    path: str | Path,
    text: str | None = None,
    *,
    root: str | Path | None = None,
    read: list[YamlDocument] | None = None,
) -> Policies:
    """Read and validate a policy file (``text`` stands for the file's content when given),
    with everything it extends applied below it. Raises
    :class:`~journeydsl.yamlfile.InputError` naming the line of each mistake.

    The files it names (``extends``, ``do_not_contact.file``) are relative to the file that
    names them and are read only from inside ``root``, by default the folder of ``path``: one
    that leads outside it (an absolute path, ``..``, a symbolic link), that is not a regular
    file, or that is larger than :data:`MAX_POLICY_BYTES` (a do-not-contact list:
    :data:`~journeydsl.runtime.policies.model.MAX_DO_NOT_CONTACT_BYTES`) is an error at the
    line that names it, and is not read. ``read``, when given, gets each policy file parsed
    (the file, then those it extends, as they are read), for checks that look at what is written
    where (``journeydsl check``'s JD610)."""
    p = Path(path)
    return _load(p, text, (), Path(root) if root is not None else p.parent, read)


def _load(
    path: Path,
    text: str | None,
    stack: tuple[str, ...],
    root: Path | None,
    read: list[YamlDocument] | None,
) -> Policies:
    doc = load_document(path, text, limit=MAX_POLICY_BYTES)
    if read is not None:
        read.append(doc)
    if doc.data is None:
        raise InputError([FileError(doc.file, 1, 1, "the policy file is empty")])
    errors: list[FileError] = []
    inner = (*stack, str(path.resolve()))
    try:
        model = validate(Policies, doc)
    except InputError as exc:
        # Collect, don't throw: unknown profiles are worth reporting with the rest.
        raw = doc.data.get("extends") if isinstance(doc.data, dict) else None
        names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        for i, name in enumerate(names):
            if isinstance(name, str):
                _target(name, doc, i, inner, root, errors)
        raise InputError([*exc.errors, *errors]) from None
    model = _resolve_files(model, doc, root, errors)
    merged = Policies()
    for i, name in enumerate(model.extends):
        layer = _extended(name, doc, i, inner, root, errors, read)
        if layer is not None:
            merged = _stack(merged, layer, None, errors)
    merged = _stack(merged, model, doc, errors)
    if errors:
        raise InputError(errors)
    return merged


def _target(
    name: str,
    doc: YamlDocument,
    index: int,
    stack: tuple[str, ...],
    root: Path | None,
    errors: list[FileError],
) -> Path | str | None:
    """What ``extends[index]`` names: a built-in profile's name, a policy file's real path
    (inside ``root``, a regular file of at most :data:`MAX_POLICY_BYTES`), or None (the mistake
    is added to ``errors``)."""
    if name in BUILTIN_PROFILES:
        return name
    if not name.endswith((".yaml", ".yml")):
        hint = did_you_mean(name, BUILTIN_PROFILES)
        errors.append(
            doc.error(
                ("extends", index),
                f"unknown profile '{name}'"
                + (f" — {hint}" if hint else "")
                + f" (built-in profiles: {', '.join(BUILTIN_PROFILES)}; or a .yaml file)",
            )
        )
        return None
    found = named_file(
        doc, ("extends", index), name, root=root, limit=MAX_POLICY_BYTES, what="policy file"
    )
    if isinstance(found, FileError):
        errors.append(found)
        return None
    if str(found) in stack:
        errors.append(doc.error(("extends", index), f"'{name}' extends itself (a cycle)"))
        return None
    return found


def _extended(
    name: str,
    doc: YamlDocument,
    index: int,
    stack: tuple[str, ...],
    root: Path | None,
    errors: list[FileError],
    read: list[YamlDocument] | None,
) -> Policies | None:
    target = _target(name, doc, index, stack, root, errors)
    if target is None:
        return None
    if isinstance(target, str):
        return builtin_profile(target)
    return _load(target, None, stack, root, read)


def _resolve_files(
    model: Policies, doc: YamlDocument, root: Path | None, errors: list[FileError]
) -> Policies:
    """Do-not-contact files, relative to the policy file, checked (inside ``root``, regular
    files of at most :data:`~journeydsl.runtime.policies.model.MAX_DO_NOT_CONTACT_BYTES`, one
    id or number a line of UTF-8 text) and made absolute."""

    def resolve(part: PolicySet, loc: tuple[str, ...]) -> PolicySet:
        dnc = part.do_not_contact
        if dnc.file is None:
            return part
        found = named_file(
            doc,
            (*loc, "do_not_contact", "file"),
            dnc.file,
            root=root,
            limit=MAX_DO_NOT_CONTACT_BYTES,
            what="do-not-contact file",
        )
        if isinstance(found, FileError):
            errors.append(found)
            return part
        try:
            read_list(found)
        except UnreadableListError as exc:
            # Unusable from the start (a CSV export, a binary file): an error of the policy
            # file now, not a run that withholds every marketing message without a word.
            errors.append(
                doc.error(
                    (*loc, "do_not_contact", "file"),
                    f"do-not-contact file '{dnc.file}' cannot be used: {exc.problem}",
                )
            )
            return part
        fixed = dnc.model_copy(update={"file": str(found)})
        return part.model_copy(update={"do_not_contact": fixed})

    top = resolve(model, ())
    journeys = {jid: resolve(part, ("journeys", jid)) for jid, part in model.journeys.items()}
    result = top.model_copy(update={"journeys": journeys})
    assert isinstance(result, Policies)
    return result


def _stack(
    base: Policies, top: Policies, doc: YamlDocument | None, errors: list[FileError]
) -> Policies:
    """``top`` over ``base``: the policies, then the per-journey overrides of both."""
    merged, unknown = overlay(base, top)
    for name in unknown:
        if doc is not None:
            inherited = _rule_names(overlay(base, top.model_copy(update={"disable": ()}))[0])
            errors.append(_unknown_rule(doc, ("disable",), top.disable, name, inherited))
    journeys = dict(base.journeys)
    for jid, part in top.journeys.items():
        if doc is not None:
            context = overlay(merged, journeys[jid])[0] if jid in journeys else merged
            _, missing = overlay(context, part)
            inherited = _rule_names(overlay(context, part.model_copy(update={"disable": ()}))[0])
            for name in missing:
                errors.append(
                    _unknown_rule(doc, ("journeys", jid, "disable"), part.disable, name, inherited)
                )
        if jid in journeys:
            journeys[jid] = _join(journeys[jid], part)
        else:
            journeys[jid] = part
    update: dict[str, object] = {"journeys": journeys, "extends": ()}
    if "description" in top.model_fields_set:
        update["description"] = top.description
    return merged.model_copy(update=update)


def _join(lower: PolicySet, upper: PolicySet) -> PolicySet:
    """Two per-journey overrides of the same journey as one (still an override)."""
    joined, _ = overlay(lower, upper)
    fields = set(lower.model_fields_set) | set(upper.model_fields_set) | {"disable"}
    disable = tuple(dict.fromkeys((*lower.disable, *upper.disable)))
    data = {name: getattr(joined, name) for name in fields}
    data["disable"] = disable
    return PolicySet.model_construct(_fields_set=fields, **data)


def _rule_names(policies: PolicySet) -> list[str]:
    """The names of the named rules of ``policies`` (those ``disable`` can switch off)."""
    sections = (*RULE_SECTIONS, "throughput") if isinstance(policies, Policies) else RULE_SECTIONS
    return [r.name for s in sections for r in getattr(policies, s) if r.name is not None]


def _unknown_rule(
    doc: YamlDocument,
    loc: tuple[str, ...],
    names: tuple[str, ...],
    name: str,
    inherited: list[str],
) -> FileError:
    at: tuple[int | str, ...] = (*loc, names.index(name))
    where = at if doc.written(at) else loc
    hint = did_you_mean(name, inherited)
    known = f" (the rules it can switch off: {', '.join(inherited)})" if inherited else ""
    return doc.error(
        where, f"no inherited rule is named '{name}'" + (f" — {hint}" if hint else known)
    )
