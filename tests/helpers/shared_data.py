"""Where the project's real Azure reference data lives (read-only): ``../shared/data/azure-roles`` beside the
clone — in CI and on a workstation alike. Tests that compare shipped, generated files with it fall back to the
files' own invariants when it is absent."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SHARED_ROLES_DIR = ROOT.parent / "shared" / "data" / "azure-roles"
