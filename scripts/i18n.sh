#!/usr/bin/env bash
# Extract every message from app/ into messages.pot and merge it into the nb and en catalogues.
# Message ids are English; service errors are the first argument of the domain exceptions.
#
#   scripts/i18n.sh          refresh the catalogues (then translate what is new in nb)
#   scripts/i18n.sh --check  change nothing; fail if a message in app/ has no bokmål translation
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
keywords=(-k N_ -k gettext:2 -k ngettext:2,3 -k _)
for exc in DomainError Invalid NotFound AuthRequired NotAllowed Conflict RateLimited; do
  keywords+=(-k "$exc")
done

# extract POT: _partials/ holds templates too, and the default would skip folders named `_*`.
extract() {
  "$BIN/pybabel" -q extract -F babel.cfg --ignore-dirs ".* __pycache__" --no-location \
    --sort-output --omit-header "${keywords[@]}" -o "$1" app
}

if [ "${1:-}" = "--check" ]; then
  pot="$(mktemp)"
  trap 'rm -f "$pot"' EXIT
  extract "$pot"
  exec "$BIN/python" - "$pot" app/translations/nb/LC_MESSAGES/messages.po <<'PY'
import sys
from babel.messages.pofile import read_po

def load(path):
    with open(path, "rb") as f:
        return read_po(f, locale="nb")

wanted, nb = load(sys.argv[1]), load(sys.argv[2])
missing = []
for message in wanted:
    if not message.id:
        continue
    have = nb.get(message.id)
    strings = [] if have is None else ([have.string] if isinstance(have.string, str) else list(have.string))
    if not strings or not all(strings):
        missing.append(message.id if isinstance(message.id, str) else message.id[0])
for msgid in missing:
    print(f"no bokmål translation: {msgid!r}")
sys.exit(1 if missing else 0)
PY
fi

extract app/translations/messages.pot
for lang in nb en; do
  po=app/translations/$lang/LC_MESSAGES/messages.po
  if [ -f "$po" ]; then
    "$BIN/pybabel" -q update --no-fuzzy-matching --omit-header \
      -i app/translations/messages.pot -d app/translations -l "$lang"
  else
    "$BIN/pybabel" -q init -i app/translations/messages.pot -d app/translations -l "$lang"
  fi
done
