"""`[tool.trustcheck]` in pyproject.toml, found upward from the scanned path; CLI flags override it.

Keys (kebab-case in TOML, snake_case here):
    fail-on        lowest severity that makes `scan` exit 1 (default "high")
    min-severity   findings below this are not reported at all (default "info": report everything)
    format         text | json | sarif | ...  (default "text")
    select         rule ids (fnmatch globs) to run; empty = all
    ignore         rule ids (fnmatch globs) never to report
    exclude        gitignore-style patterns of paths not to scan, relative to the config's folder
    max-file-size  bytes; larger files are an error entry instead of a scan (default 2 MiB)
    rules          extra rule folders, relative to the config's folder
    jobs           worker processes; 0 = one per core (default 0)
    skip-errors    true: files that cannot be scanned are reported but do not make the exit code 2
    anomaly        false: never run the anomaly detector even when a baseline is fitted
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomllib

from trustcheck.errors import TrustcheckError
from trustcheck.findings import Severity

CONFIG_FILE = "pyproject.toml"
DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024  # minified bundles above this are rarely hand-written code


@dataclasses.dataclass(frozen=True)
class Config:
    fail_on: Severity = Severity.HIGH
    min_severity: Severity = Severity.INFO
    format: str = "text"
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    rules: tuple[str, ...] = ()  # absolute paths once loaded
    jobs: int = 0
    skip_errors: bool = False
    anomaly: bool = True
    root: str = "."  # folder of the config file (or the start folder when there is none)
    source: str | None = None  # the pyproject.toml that was read, if any


# key in TOML -> (field, parser). A parser raises ValueError with a short reason.
def _severity(value: Any) -> Severity:
    try:
        return Severity(str(value).lower())
    except ValueError:
        raise ValueError(f"expected one of {', '.join(s.value for s in Severity)}") from None


def _string_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("expected a list of strings")


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        try:
            if isinstance(value, str) and int(value) >= 0:
                return int(value)
        except ValueError:
            pass
        raise ValueError("expected a whole number >= 0")
    return value


def _positive_int(value: Any) -> int:
    number = _non_negative_int(value)
    if number == 0:
        raise ValueError("expected a whole number > 0")
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError("expected true or false")


def _format(value: Any) -> str:
    from trustcheck.reporters import REPORTERS

    if not isinstance(value, str) or value not in REPORTERS:
        raise ValueError(f"expected one of {', '.join(REPORTERS)}")
    return value


_KEYS = {
    "fail-on": ("fail_on", _severity),
    "min-severity": ("min_severity", _severity),
    "format": ("format", _format),
    "select": ("select", _string_list),
    "ignore": ("ignore", _string_list),
    "exclude": ("exclude", _string_list),
    "max-file-size": ("max_file_size", _positive_int),
    "rules": ("rules", _string_list),
    "jobs": ("jobs", _non_negative_int),
    "skip-errors": ("skip_errors", _bool),
    "anomaly": ("anomaly", _bool),
}


def find_config(start: str | os.PathLike[str]) -> Path | None:
    """The nearest pyproject.toml with a [tool.trustcheck] table, from `start` (a file or folder)
    upward; None if there is none. Stops at the filesystem root."""
    here = Path(start).resolve()
    if not here.is_dir():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "[tool.trustcheck" in text:  # cheap test first; parsed properly in load_config
                return candidate
    return None


def load_config(
    start: str | os.PathLike[str] = ".",
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
) -> Config:
    """Read `[tool.trustcheck]` from `config_file` or the nearest pyproject.toml above `start`, then
    apply `overrides` (CLI values, kebab- or snake-case keys; None values are ignored).
    Raises TrustcheckError naming the file and key for unknown keys or bad values."""
    path = Path(config_file) if config_file is not None else find_config(start)
    values: dict[str, Any] = {}
    root = Path(start).resolve()
    root = root if root.is_dir() else root.parent
    if path is not None:
        table = _read_table(path)
        root = path.resolve().parent
        for key, value in table.items():
            values.update(_parse(key, value, where=f"{path}: [tool.trustcheck] {key}"))
        values["source"] = str(path)
    for key, value in (overrides or {}).items():
        if value is None or (isinstance(value, (list, tuple)) and not value and key in ("select", "ignore", "exclude", "rules")):
            continue
        values.update(_parse(key.replace("_", "-"), value, where=f"option --{key.replace('_', '-')}", cli=True))
    values["root"] = str(root)
    # rule folders are relative to the config file that names them
    values["rules"] = tuple(str((root / r).resolve()) if not os.path.isabs(r) else r for r in values.get("rules", ()))
    return Config(**values)


def _read_table(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrustcheckError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustcheckError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TrustcheckError(f"{path} is not valid TOML: {exc}", hint="fix the syntax error it names") from None
    table = data.get("tool", {}).get("trustcheck", {})
    if not isinstance(table, dict):
        raise TrustcheckError(f"{path}: [tool.trustcheck] must be a table")
    return table


def _parse(key: str, value: Any, *, where: str, cli: bool = False) -> dict[str, Any]:
    spec = _KEYS.get(key)
    if spec is None:
        close = [k for k in _KEYS if k.replace("-", "") == key.replace("-", "").replace("_", "")]
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(_KEYS)}"
        raise TrustcheckError(f"{where}: unknown key {key!r}", hint=hint)
    field, parse = spec
    try:
        return {field: parse(value)}
    except ValueError as exc:
        raise TrustcheckError(f"{where}: bad value {value!r}: {exc}") from None
