#!/bin/sh
# Fails when any tracked C file is not formatted as .clang-format says.
set -eu
cf=${1:-clang-format}
cd "${MESON_SOURCE_ROOT:-$(dirname "$0")/..}"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
[ -n "$files" ] || exit 0
# shellcheck disable=SC2086
"$cf" --dry-run -Werror $files
