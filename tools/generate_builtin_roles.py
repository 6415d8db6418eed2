"""Regenerate preflight/builtin_roles.json — every built-in role definition in the compact form the product
ranks for least privilege (preflight/builtin_roles.py) — from the ``az role definition list`` output in the shared
reference data (``../shared/data/azure-roles/builtin_role_definitions_all.json`` beside the clone, or the directory
given as the first argument).

    python tools/generate_builtin_roles.py [DATA_DIR]

tests/test_builtin_roles.py fails when the shipped file differs from what this writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from preflight.builtin_roles import ROLES_FILE, roles_json

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "azure-roles"
SOURCE_FILE = "builtin_role_definitions_all.json"


def main(argv: list[str]) -> int:
    data = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATA
    definitions = json.loads((data / SOURCE_FILE).read_text(encoding="utf-8"))
    target = ROOT / "preflight" / ROLES_FILE
    target.write_text(roles_json(definitions), encoding="utf-8")
    print(f"wrote {target.relative_to(ROOT)} ({len(definitions)} roles) from {data}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
