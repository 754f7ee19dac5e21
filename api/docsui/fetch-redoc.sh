#!/bin/sh
# Fetches Redoc's standalone bundle (the renderer of GET /docs) from the npm registry at a pinned version, checks
# the package against its pinned integrity, and writes the bundle and its licence into DIR (default: this script's
# folder, from where the API embeds them). Third-party code is fetched at build time, never committed.
# Used by `make docs-ui` and the Dockerfile. Needs npm and node.
set -eu
REDOC_VERSION=2.5.4
# npm view redoc@$REDOC_VERSION dist.integrity
REDOC_INTEGRITY=sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==

dir=${1:-$(dirname "$0")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "redoc@$REDOC_VERSION" >/dev/null)
tgz="$tmp/redoc-$REDOC_VERSION.tgz"
got=$(node -e 'const c = require("crypto"), f = require("fs");
console.log("sha512-" + c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")
if [ "$got" != "$REDOC_INTEGRITY" ]; then
	echo "redoc@$REDOC_VERSION: integrity $got, want $REDOC_INTEGRITY" >&2
	exit 1
fi
tar -xzf "$tgz" -C "$tmp" package/bundles/redoc.standalone.js package/bundles/redoc.standalone.js.LICENSE.txt
mkdir -p "$dir"
cp "$tmp/package/bundles/redoc.standalone.js.LICENSE.txt" "$tmp/package/bundles/redoc.standalone.js" "$dir/"
echo "redoc@$REDOC_VERSION -> $dir/redoc.standalone.js"
