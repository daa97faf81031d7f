# lib.sh - sourced by the suite tests: check() from tests/cli, and the
# documentation's examples, which the tests run as they are written
. "$(dirname "$0")/../cli/lib.sh"
# doc_block FILE LANG N: the N-th ```LANG block of FILE, as written
doc_block() {
	/usr/bin/python3 - "$@" <<'PY'
import re, sys
path, lang, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
blocks = re.findall(r"^```" + re.escape(lang) + r"\n(.*?)^```", open(path).read(), re.S | re.M)
if len(blocks) < n:
    sys.exit(f"{path}: no ```{lang} block number {n}")
sys.stdout.write(blocks[n - 1])
PY
}
