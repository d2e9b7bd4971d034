"""How well supplier resolution does against the hand-labelled payees.

`python -m warehouse.accuracy [--labels PATH] [--json]` resolves every labelled spelling with
`warehouse.resolution.Resolver` (the UK registry for `uk` rows, the demo world's registry for
`demo` rows) and reports pairwise precision and recall of "same organisation", precision and
recall of links to registry publishers, counts by method and the worst mistakes. It is a report:
it exits 0 whatever the figures; tests/unit/test_resolution_accuracy.py asserts the targets.
Definitions: docs/resolution.md ("Measuring accuracy").
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, NamedTuple, Protocol

LABELS = Path(__file__).with_name("labels") / "payees.csv"
COLUMNS = ("spelling", "company_number", "charity_number", "entity", "publisher_id", "registry",
           "source", "note")
REGISTRIES = ("uk", "demo")
TARGET_PRECISION = 0.98
TARGET_RECALL = 0.90
EXAMPLES = 10


@dataclass(frozen=True)
class Label:
    """One labelled payee spelling: who it really is (entity) and which publisher, if any."""

    spelling: str
    company_number: str | None
    charity_number: str | None
    entity: str
    publisher_id: str | None
    registry: str
    source: str = ""
    note: str = ""

    @property
    def redacted(self) -> bool:
        """A redaction marker: never the same organisation as anything."""
        return self.entity == "redacted" or self.entity.startswith("redacted-")


@dataclass(frozen=True)
class Prediction:
    """What the resolver said about one label."""

    label: Label
    supplier_id: str | None
    publisher_id: str | None
    method: str
    confidence: float


@dataclass(frozen=True)
class Rate:
    """True positives, false positives and false negatives, and what follows from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was claimed."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when there was nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def __add__(self, other: Rate) -> Rate:
        return Rate(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_json(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": round(self.precision, 4), "recall": round(self.recall, 4)}


@dataclass(frozen=True)
class Pair:
    """Two labelled spellings the resolver got wrong together (a false merge or a missed pair)."""

    registry: str
    first: str
    second: str
    first_entity: str
    second_entity: str
    first_supplier: str | None
    second_supplier: str | None


@dataclass(frozen=True)
class WrongLink:
    """A row whose publisher link differs from its label."""

    registry: str
    spelling: str
    labelled: str | None
    predicted: str | None


@dataclass
class Scores:
    """The measurement: overall and per registry, with examples to learn from."""

    rows: int
    same: Rate
    publisher: Rate
    by_registry: dict[str, dict[str, Rate]]
    methods: dict[str, int]
    registry_rows: dict[str, int] = field(default_factory=dict)
    redaction_leaks: list[Prediction] = field(default_factory=list)
    false_merges: list[Pair] = field(default_factory=list)
    missed_pairs: list[Pair] = field(default_factory=list)
    wrong_links: list[WrongLink] = field(default_factory=list)

    def met(self) -> dict[str, bool]:
        """Whether each figure reaches its target."""
        return {"same_precision": self.same.precision >= TARGET_PRECISION,
                "same_recall": self.same.recall >= TARGET_RECALL,
                "publisher_precision": self.publisher.precision >= TARGET_PRECISION,
                "publisher_recall": self.publisher.recall >= TARGET_RECALL}

    def to_json(self) -> dict:
        return {
            "rows": self.rows,
            "registry_rows": self.registry_rows,
            "targets": {"precision": TARGET_PRECISION, "recall": TARGET_RECALL},
            "same_organisation": self.same.to_json(),
            "publisher_link": self.publisher.to_json(),
            "met": self.met(),
            "by_registry": {reg: {kind: rate.to_json() for kind, rate in rates.items()}
                            for reg, rates in self.by_registry.items()},
            "methods": self.methods,
            "redaction_leaks": [{"registry": p.label.registry, "spelling": p.label.spelling,
                                 "supplier_id": p.supplier_id, "method": p.method}
                                for p in self.redaction_leaks],
            "false_merges": [asdict(p) for p in self.false_merges],
            "missed_pairs": [asdict(p) for p in self.missed_pairs],
            "wrong_links": [asdict(w) for w in self.wrong_links],
        }


class SupportsResolve(Protocol):
    def resolve(self, record: Any) -> Any: ...


class _Payee(NamedTuple):
    """Stand-in for warehouse.resolution.PayeeRecord while that module does not exist."""

    name: str
    company_number: str | None
    charity_number: str | None


def load_labels(path: Path | str = LABELS) -> list[Label]:
    """The labelled spellings, exactly as written (empty cells become None, except spelling)."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing columns {missing}")
        labels = []
        for line, row in enumerate(reader, start=2):
            if row["registry"] not in REGISTRIES or not row["entity"]:
                raise ValueError(f"{path}:{line}: needs an entity and a registry in {REGISTRIES}")
            labels.append(Label(
                spelling=row["spelling"],
                company_number=row["company_number"] or None,
                charity_number=row["charity_number"] or None,
                entity=row["entity"],
                publisher_id=row["publisher_id"] or None,
                registry=row["registry"],
                source=row["source"],
                note=row["note"],
            ))
    return labels


def _record_factory() -> Callable[..., Any]:
    try:
        from warehouse.resolution import PayeeRecord
    except ModuleNotFoundError as missing:
        if missing.name != "warehouse.resolution":
            raise
        return _Payee
    return PayeeRecord


def predict(labels: Iterable[Label], resolvers: Mapping[str, SupportsResolve],
            record: Callable[..., Any] | None = None) -> list[Prediction]:
    """Resolve every label with the resolver for its registry."""
    record = record or _record_factory()
    labels = list(labels)
    # Resolve as the warehouse does: the whole batch's declared aliases are learned first.
    for registry, resolver in resolvers.items():
        if hasattr(resolver, "learn"):
            resolver.learn(record(name=label.spelling, company_number=label.company_number,
                                  charity_number=label.charity_number)
                           for label in labels if label.registry == registry)
    out = []
    for label in labels:
        res = resolvers[label.registry].resolve(record(
            name=label.spelling, company_number=label.company_number,
            charity_number=label.charity_number))
        out.append(Prediction(label, res.supplier_id or None, res.publisher_id or None,
                              str(res.method), float(res.confidence)))
    return out


def measure(labels: Iterable[Label], resolvers: Mapping[str, SupportsResolve],
            record: Callable[..., Any] | None = None) -> Scores:
    """Resolve the labels and score the result (pure: no files, no network)."""
    return score(predict(labels, resolvers, record))


def score(predictions: list[Prediction]) -> Scores:
    """Pairwise same-organisation and per-row publisher-link scores, per registry and overall."""
    by_registry: dict[str, dict[str, Rate]] = {}
    false_merges: list[tuple[float, Pair]] = []
    missed: list[tuple[int, Pair]] = []
    wrong_links: list[WrongLink] = []
    leaks = [p for p in predictions if p.label.redacted and p.supplier_id]
    for registry in sorted({p.label.registry for p in predictions}):
        group = [p for p in predictions if p.label.registry == registry]
        same, merges, misses = _pairs(registry, group)
        false_merges += merges
        missed += misses
        same += Rate(fp=sum(1 for p in group if p.label.redacted and p.supplier_id))
        link, wrong = _links(registry, group)
        wrong_links += wrong
        by_registry[registry] = {"same": same, "publisher": link}
    total_same = sum((r["same"] for r in by_registry.values()), Rate())
    total_link = sum((r["publisher"] for r in by_registry.values()), Rate())
    false_merges.sort(key=lambda item: (-item[0], item[1].registry, item[1].first, item[1].second))
    missed.sort(key=lambda item: (-item[0], item[1].registry, item[1].first, item[1].second))
    return Scores(
        rows=len(predictions),
        same=total_same,
        publisher=total_link,
        by_registry=by_registry,
        methods=dict(sorted(Counter(p.method for p in predictions).items())),
        registry_rows=dict(sorted(Counter(p.label.registry for p in predictions).items())),
        redaction_leaks=leaks,
        false_merges=_spread([pair for _, pair in false_merges],
                             lambda p: frozenset((p.first_entity, p.second_entity))),
        missed_pairs=_spread([pair for _, pair in missed], lambda p: p.first_entity),
        wrong_links=wrong_links,
    )


def _pairs(registry: str, group: list[Prediction]
           ) -> tuple[Rate, list[tuple[float, Pair]], list[tuple[int, Pair]]]:
    """Count pairs without enumerating all of them: TP from (entity, supplier) cells."""
    def entity(p: Prediction) -> str | None:
        return None if p.label.redacted else p.label.entity

    by_supplier: dict[str, list[Prediction]] = defaultdict(list)
    by_entity: dict[str, list[Prediction]] = defaultdict(list)
    cells: Counter[tuple[str, str]] = Counter()
    for p in group:
        if p.supplier_id:
            by_supplier[p.supplier_id].append(p)
        if (e := entity(p)) is not None:
            by_entity[e].append(p)
            if p.supplier_id:
                cells[(e, p.supplier_id)] += 1
    tp = sum(_choose2(n) for n in cells.values())
    predicted = sum(_choose2(len(ps)) for ps in by_supplier.values())
    labelled = sum(_choose2(len(ps)) for ps in by_entity.values())
    merges = [(min(a.confidence, b.confidence), _pair(registry, a, b))
              for ps in by_supplier.values() for a, b in combinations(ps, 2)
              if entity(a) is None or entity(a) != entity(b)]
    misses = [(len(ps), _pair(registry, a, b))
              for ps in by_entity.values() for a, b in combinations(ps, 2)
              if not (a.supplier_id and a.supplier_id == b.supplier_id)]
    return Rate(tp=tp, fp=predicted - tp, fn=labelled - tp), merges, misses


def _links(registry: str, group: list[Prediction]) -> tuple[Rate, list[WrongLink]]:
    """Per row: a right link is a TP; a wrong one a FP (and a FN if a link was due)."""
    tp = fp = fn = 0
    wrong = []
    for p in group:
        want, got = p.label.publisher_id, p.publisher_id
        if got and got == want:
            tp += 1
            continue
        if got:
            fp += 1
        if want:
            fn += 1
        if got or want:
            wrong.append(WrongLink(registry, p.label.spelling, want, got))
    return Rate(tp, fp, fn), wrong


def _spread(pairs: list[Pair], group: Callable[[Pair], object]) -> list[Pair]:
    """Up to EXAMPLES pairs, one per group (organisation, or pair of them) before any repeat."""
    chosen, seen = [], set()
    for pair in pairs:
        if group(pair) not in seen:
            seen.add(group(pair))
            chosen.append(pair)
            if len(chosen) == EXAMPLES:
                return chosen
    for pair in pairs:
        if len(chosen) == EXAMPLES:
            break
        if pair not in chosen:
            chosen.append(pair)
    return chosen


def _pair(registry: str, a: Prediction, b: Prediction) -> Pair:
    return Pair(registry, a.label.spelling, b.label.spelling, a.label.entity, b.label.entity,
                a.supplier_id, b.supplier_id)


def _choose2(n: int) -> int:
    return n * (n - 1) // 2


# --- the command ---------------------------------------------------------------------------


def build_resolvers(registries: Iterable[str]) -> dict[str, SupportsResolve]:
    """A Resolver per registry set: the UK registry, and the demo world's (built in a temp dir)."""
    from sources.registry import load_registry
    from warehouse.resolution import Resolver

    resolvers: dict[str, SupportsResolve] = {}
    for registry in set(registries):
        if registry == "uk":
            resolvers["uk"] = Resolver(load_registry())
        elif registry == "demo":
            from sources.demo_world import build_demo_world

            with tempfile.TemporaryDirectory() as tmp:
                world = build_demo_world(Path(tmp), "http://127.0.0.1:1")
                resolvers["demo"] = Resolver(load_registry(world.registry_path))
        else:
            raise ValueError(f"unknown registry set {registry!r}")
    return resolvers


def report(scores: Scores) -> str:
    """The figures as text a person can act on."""
    met = scores.met()
    counts = ", ".join(f"{reg} {n}" for reg, n in scores.registry_rows.items())
    lines = [f"Supplier resolution accuracy over {scores.rows} labelled spellings ({counts})"]
    for name, rate, key in (("same organisation (pairs)", scores.same, "same"),
                            ("publisher link (rows)", scores.publisher, "publisher")):
        lines.append(
            f"  {name:27} precision {rate.precision:.3f} (target {TARGET_PRECISION:.2f}: "
            f"{_met(met[key + '_precision'])})  recall {rate.recall:.3f} "
            f"(target {TARGET_RECALL:.2f}: {_met(met[key + '_recall'])})  "
            f"TP {rate.tp} FP {rate.fp} FN {rate.fn}")
    for registry, rates in scores.by_registry.items():
        same, link = rates["same"], rates["publisher"]
        lines.append(f"  {registry:5} same P {same.precision:.3f} R {same.recall:.3f} | "
                     f"link P {link.precision:.3f} R {link.recall:.3f}")
    lines.append("methods: " + ", ".join(f"{m} {n}" for m, n in scores.methods.items()))
    lines.append(f"redacted rows given a supplier_id: {len(scores.redaction_leaks)}")
    lines += [f"  [{p.label.registry}] {p.label.spelling!r} -> {p.supplier_id} ({p.method})"
              for p in scores.redaction_leaks]
    lines.append(f"false merges (worst {EXAMPLES}):")
    lines += [f"  [{p.registry}] {p.first!r} ({p.first_entity}) + {p.second!r} "
              f"({p.second_entity}) -> {p.first_supplier}" for p in scores.false_merges]
    lines.append(f"missed pairs (first {EXAMPLES}):")
    lines += [f"  [{p.registry}] {p.first!r} -> {p.first_supplier} | {p.second!r} -> "
              f"{p.second_supplier} (both {p.first_entity})" for p in scores.missed_pairs]
    lines.append(f"wrong publisher links: {len(scores.wrong_links)}")
    lines += [f"  [{w.registry}] {w.spelling!r}: labelled {w.labelled}, got {w.predicted}"
              for w in scores.wrong_links[:EXAMPLES]]
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m warehouse.accuracy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=LABELS, help="labelled payees CSV")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    args = parser.parse_args(argv)
    labels = load_labels(args.labels)
    scores = measure(labels, build_resolvers(label.registry for label in labels))
    print(json.dumps(scores.to_json(), indent=2) if args.json else report(scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
