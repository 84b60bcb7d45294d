#!/usr/bin/env bash
# Prints the Python that runs the independent access-log verifier (tests/verify_audit_log.py),
# installing it first if needed: a venv in the tools cache with tests/requirements-audit.txt
# (`cryptography` from PyPI), named by that file's hash, so a change of pin makes a new one.
source "$(dirname "$0")/../scripts/env.sh"
req="$ROOT/tests/requirements-audit.txt"
venv="$TOOLS/py-audit-$(sha256sum "$req" | cut -c1-12)"
if [ ! -f "$venv/.complete" ]; then
  log "installing $(tr '\n' ' ' < "$req")into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
