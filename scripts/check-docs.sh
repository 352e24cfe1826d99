#!/usr/bin/env bash
# Fails when the code or the docs point at a page that is not there.
#
# 1. Every `docs/<name>.md` or `docs/<name>.png` path named in src/, benches/, tests/,
#    fuzz/, scripts/, README.md and docs/ must exist (paths are taken from the
#    repository root, as the code comments write them). A path that is part of
#    a URL or of a longer name (`…/docs/x.md`, `skype-docs/x.md`) is not ours
#    and is skipped.
# 2. Every relative Markdown link (`[text](target)`, images too) in README.md
#    and docs/**/*.md must point at an existing file, from the linking file's
#    own directory. Links inside fenced code blocks, URLs (`https:`,
#    `mailto:`, …) and in-page anchors (`#…`) are skipped; a link's own
#    `#anchor` is not checked, only its file.
#
# Prints each broken pointer as `file:line: target` and exits 1 if there is
# any; prints one summary line and exits 0 otherwise. Needs bash, grep, awk.
set -euo pipefail
cd "$(dirname "$0")/.."

broken=0
paths=0
links=0

report() {
  echo "check-docs: $1: $2 does not exist" >&2
  broken=$((broken + 1))
}

# 1. docs/ paths named anywhere. -I skips the screenshots (binary).
roots=()
for r in src benches tests fuzz scripts README.md docs; do
  [ -e "$r" ] && roots+=("$r")
done
while IFS=$'\t' read -r where path; do
  paths=$((paths + 1))
  [ -e "$path" ] || report "$where" "$path"
done < <(
  grep -rnoIE \
    --exclude-dir=target --exclude-dir=corpus --exclude-dir=artifacts \
    '(^|[^A-Za-z0-9_./-])docs/[A-Za-z0-9_./-]+\.(md|png)' "${roots[@]}" |
    awk '{
      # file:line:match; the match may start with one delimiter character.
      split($0, part, ":")
      where = part[1] ":" part[2]
      match($0, /docs\/[A-Za-z0-9_.\/-]+\.(md|png)$/)
      print where "\t" substr($0, RSTART, RLENGTH)
    }' | sort -u
)

# 2. Relative links in README.md and docs/**/*.md.
mapfile -t pages < <({ [ -f README.md ] && echo README.md; [ -d docs ] && find docs -name '*.md'; } | sort)
while IFS=$'\t' read -r where base target; do
  links=$((links + 1))
  [ -e "$base/$target" ] || report "$where" "$target"
done < <(
  for page in "${pages[@]}"; do
    awk -v file="$page" -v base="$(dirname "$page")" '
      /^[ \t]*(```|~~~)/ { fenced = !fenced; next }
      fenced { next }
      {
        line = $0
        # Leave out inline code spans: `[a](b)` inside backticks is not a link.
        gsub(/`[^`]*`/, "", line)
        while (match(line, /\]\([^) \t]+/)) {
          target = substr(line, RSTART + 2, RLENGTH - 2)
          line = substr(line, RSTART + RLENGTH)
          sub(/^</, "", target); sub(/>$/, "", target)
          sub(/#.*/, "", target)
          if (target == "" || target ~ /^[A-Za-z][A-Za-z0-9+.-]*:/) continue
          print file ":" FNR "\t" base "\t" target
        }
      }' "$page"
  done
)

if [ "$broken" -gt 0 ]; then
  echo "check-docs: $broken broken pointer(s) ($paths docs/ paths and $links relative links checked)" >&2
  exit 1
fi
echo "check-docs: $paths docs/ paths and $links relative links, all present"
