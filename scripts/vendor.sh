#!/usr/bin/env bash
# Refresh the vendored front-end libraries in app/static/vendor/ from the npm registry.
#
# Samvirke must work with the internet down, so every asset is served by the app itself:
# never a CDN. This script fetches each package with `npm pack` (no node_modules, no install
# scripts run), copies the minified build and the package's LICENSE, and records name,
# version, licence and SHA-256 in VERSIONS.txt. Review the diff, then commit it.
#
# Change a range below (or set it in the environment) to move to another version.
set -euo pipefail

HTMX_SPEC="${HTMX_SPEC:-htmx.org@~2.0}"
IDIOMORPH_SPEC="${IDIOMORPH_SPEC:-idiomorph@~0.8}"
SWAGGER_SPEC="${SWAGGER_SPEC:-swagger-ui-dist@~5.35}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/app/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

command -v npm >/dev/null || { echo "vendor.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$DEST"

# fetch SPEC FILE TARGET_NAME: unpack one package and copy one of its files (path inside it).
fetch() {
  local spec="$1" file="$2" target="$3" dir tarball name version licence
  dir="$WORK/$target"
  mkdir -p "$dir"
  tarball="$(cd "$dir" && npm pack --silent "$spec" | tail -n 1)"
  tar -xzf "$dir/$tarball" -C "$dir"
  name="$(node -p "require('$dir/package/package.json').name")"
  version="$(node -p "require('$dir/package/package.json').version")"
  licence="$(node -p "require('$dir/package/package.json').license || '0BSD (see LICENSE)'")"
  cp "$dir/package/$file" "$DEST/$target"
  if [ -f "$dir/package/$file.LICENSE.txt" ]; then  # licences of what a bundle bundles
    cp "$dir/package/$file.LICENSE.txt" "$DEST/$target.LICENSE.txt"
  fi
  cp "$dir/package/LICENSE" "$DEST/LICENSE.$name.txt"
  printf '%-14s %-9s %-20s %-24s sha256:%s\n' "$name" "$version" "$licence" "$target" \
    "$(sha256sum "$DEST/$target" | cut -d' ' -f1)" >>"$WORK/versions"
}

fetch "$HTMX_SPEC" dist/htmx.min.js htmx.min.js
fetch "$IDIOMORPH_SPEC" dist/idiomorph-ext.min.js idiomorph-ext.min.js
# The API's interactive documentation at /docs (FastAPI would load it from a CDN).
fetch "$SWAGGER_SPEC" swagger-ui-bundle.js swagger-ui-bundle.js
fetch "$SWAGGER_SPEC" swagger-ui.css swagger-ui.css
fetch "$SWAGGER_SPEC" favicon-32x32.png swagger-favicon.png

{
  echo "# Vendored by scripts/vendor.sh from the npm registry; do not edit these files by hand."
  echo "# package      version   licence              file                     checksum"
  cat "$WORK/versions"
} >"$DEST/VERSIONS.txt"
cat "$DEST/VERSIONS.txt"
