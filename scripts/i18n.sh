#!/usr/bin/env bash
# Extract every message from app/ into messages.pot and merge it into the nb and en catalogues.
# Message ids are English; service errors are the first argument of the domain exceptions.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
keywords=(-k N_ -k gettext:2 -k ngettext:2,3 -k _)
for exc in DomainError Invalid NotFound AuthRequired NotAllowed Conflict RateLimited; do
  keywords+=(-k "$exc")
done
"$BIN/pybabel" extract -F babel.cfg --no-location --sort-output --omit-header \
  "${keywords[@]}" -o app/translations/messages.pot app
for lang in nb en; do
  po=app/translations/$lang/LC_MESSAGES/messages.po
  if [ -f "$po" ]; then
    "$BIN/pybabel" update --no-fuzzy-matching -i app/translations/messages.pot -d app/translations -l "$lang"
  else
    "$BIN/pybabel" init -i app/translations/messages.pot -d app/translations -l "$lang"
  fi
done
