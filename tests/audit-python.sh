#!/usr/bin/env bash
# Prints the Python that runs the tests' independent checkers (tests/verify_audit_log.py, the
# identifier oracle): the venv scripts/setup.sh makes from tests/requirements.txt, installed
# first if needed.
source "$(dirname "$0")/../scripts/env.sh"
[ -f "$PY_TOOLS/.complete" ] || bash "$ROOT/scripts/setup.sh" >/dev/null
echo "$PY_TOOLS/bin/python"
