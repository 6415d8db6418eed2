"""Regenerate preflight/provider_operations.json — the product's operation → plane catalogue — and the twin's
copy of the same documents (preflight/twin/data/provider_operations.json.gz, the full REST shape it serves) from
the ``az provider operation show`` output in the shared reference data (``../shared/data/azure-roles`` beside
the clone, or the directory given as the first argument).

    python tools/generate_operations.py [DATA_DIR]

tests/test_operations.py fails when either shipped file differs from what this writes.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from preflight.operations import CATALOGUE_FILE, catalogue_json

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "azure-roles"
NAMESPACES = ("Microsoft.Authorization", "Microsoft.CognitiveServices", "Microsoft.MachineLearningServices")


def main(argv: list[str]) -> int:
    data = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATA
    documents = [json.loads((data / f"provider_operations_{ns}.json").read_text(encoding="utf-8")) for ns in NAMESPACES]
    target = ROOT / "preflight" / CATALOGUE_FILE
    target.write_text(catalogue_json(documents), encoding="utf-8")
    twin = ROOT / "preflight" / "twin" / "data" / "provider_operations.json.gz"
    # mtime=0: the same input always gives the same bytes
    twin.write_bytes(gzip.compress(json.dumps(documents, separators=(",", ":")).encode("utf-8"), mtime=0))
    print(f"wrote {target.relative_to(ROOT)} and {twin.relative_to(ROOT)} from {data}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
