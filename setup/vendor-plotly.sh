#!/bin/sh
# Refresh the vendored plotly.js partial bundle the HTML reports inline
# (reports/static/plotly-basic.min.js + its MIT licence), at the plotly.js version the
# installed Python `plotly` package targets, so figure JSON and renderer agree.
# Needs npm and the npm registry; run it when pyproject.toml moves the plotly pin.
#   setup/vendor-plotly.sh [VENV_PYTHON]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
py=${1:-"$here/.venv/bin/python"}
version=$("$py" -c 'from plotly.offline import get_plotlyjs_version; print(get_plotlyjs_version())')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "plotly.js-basic-dist-min@$version" >/dev/null && tar xzf ./*.tgz)
cp "$tmp/package/plotly-basic.min.js" "$here/reports/static/plotly-basic.min.js"
cp "$tmp/package/LICENSE" "$here/reports/static/plotly-basic.LICENSE"
echo "vendored plotly.js-basic-dist-min@$version"
