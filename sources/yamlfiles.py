"""Read the YAML files that hold the project's data (the crosswalk, headings, registry, rules)."""

from pathlib import Path

import yaml

# libyaml's parser, when PyYAML was built with it, reads the UK registry in 6 ms instead of
# 73: a tenth of a `moneytrail validate` of a small file went on parsing YAML.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> object:
    """The YAML document in a UTF-8 file, as yaml.safe_load reads it."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LOADER)
