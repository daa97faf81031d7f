#!/bin/sh
# render_check.sh - the golden reports rendered as GitHub does (cmark-gfm, tables, autolinks):
# every user character shows as itself, and the markup stays memgate's own:
# no element from the data (<script>, links), tables and <details> whole.
# usage: render_check.sh GOLDEN_DIR    (exit 77, skipped, without cmark-gfm)
set -u
command -v cmark-gfm >/dev/null 2>&1 || { echo "cmark-gfm not installed: skipped"; exit 77; }
fail=0
for md in "$1"/*.md; do
	html=$(cmark-gfm --unsafe -e table -e strikethrough -e autolink -e tagfilter "$md") || { echo "FAIL: $md: cmark-gfm"; fail=1; continue; }
	name=$(basename "$md")
	if printf '%s' "$html" | grep -Eiq '<(script|a |img|em>|strong><em|del>)'; then
		echo "FAIL: $name: markup from the data:"
		printf '%s\n' "$html" | grep -Ei '<(script|a |img|em>|del>)'
		fail=1
	fi
	tables_md=$(grep -Ec '^\|[-:|]+\|$' "$md")
	tables_html=$(printf '%s' "$html" | grep -c '<table>')
	[ "$tables_md" = "$tables_html" ] || { echo "FAIL: $name: $tables_md tables written, $tables_html rendered"; fail=1; }
	rows_md=$(grep -c '^| ' "$md")
	rows_html=$(printf '%s' "$html" | grep -c '<tr>')
	[ "$rows_md" = "$rows_html" ] || { echo "FAIL: $name: $rows_md rows written, $rows_html rendered"; fail=1; }
	open=$(printf '%s' "$html" | grep -o '<details>' | wc -l)
	close=$(printf '%s' "$html" | grep -o '</details>' | wc -l)
	[ "$open" = "$close" ] || { echo "FAIL: $name: $open <details>, $close closed"; fail=1; }
done
# the hostile names come out as the very characters
html=$(cmark-gfm --unsafe -e table -e autolink "$1/hostile.md")
for want in 'a_b*c' '<code>f|g (x`y.c:1) &lt; &lt;script&gt;alert(1)&lt;/script&gt; &amp; *bold* _u_ [l](http://e) ~s~ \ $x$ @te' 'vector.h:1|2'; do
	printf '%s' "$html" | grep -qF -- "$want" || { echo "FAIL: hostile.md: '$want' not rendered as such"; fail=1; }
done
[ $fail = 0 ] && echo "ok: the golden reports render as intended"
exit $fail
