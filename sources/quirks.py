"""Publisher-specific reading quirks: recorded per publisher in the registry, as data."""

from __future__ import annotations

from dataclasses import dataclass, field

DATE_ORDERS = ("DMY", "MDY")


@dataclass(frozen=True)
class Quirks:
    """How to read one publisher's files where the generic rules are not enough.

    header_overrides maps a header, or "Header (2)" for the second of two same-named columns,
    to a spend field, or to None to leave it in `extra`. date_order settles files whose dates
    cannot show on their own whether they are day or month first. columns names the columns
    of a file published without a header row (column number, from 1, to spend field), where the
    reader would otherwise infer them from what they hold.
    """

    header_overrides: dict[str, str | None] = field(default_factory=dict)
    date_order: str | None = None
    columns: dict[int, str] = field(default_factory=dict)
