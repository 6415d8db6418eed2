#!/bin/sh
# The interop suite (issue 21): the real Azure CLI against the twin. Opt-in; needs azure-cli in its own venv:
#   python3 -m venv .venv-az && .venv-az/bin/pip install azure-cli
#   AZ=$PWD/.venv-az/bin/az tools/interop.sh [--scenario NAME ...] [--report DIR]
# `az graph query` needs the resource-graph extension: pip install --no-deps --target DIR/resource-graph
# resource-graph, then AZ_EXTENSION_DIR=DIR. Runs with the project's Python (the twin); az only as a process.
set -eu
export AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:9  # the link-local identity address is never a target
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "${TMPDIR:-/tmp}"
exec "${PYTHON:-python3}" "$repo/tests/interop/run.py" "$@"
