#!/usr/bin/env bash
# Release check: build the sdist and the wheel, check them as PyPI would, then install the wheel
# into a fresh virtualenv far from this checkout and use it as a user would (doctor, ingest,
# search, the MCP server over stdio). CI runs it after `make test` (.ci/run); `make release-check`
# runs it by hand. Everything it makes lives in a temporary folder, removed at the end
# (KEEP=1 keeps it). The wheel's dependencies come from PyPI, except torch: the local CPU build
# (torch==2.13.0) is installed first, as `make install` does.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/groundmcp-release.XXXXXX")"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
step() { printf '\n== %s\n' "$*"; }
pip_q() { "$1/bin/python" -m pip install -q --disable-pip-version-check "${@:2}"; }

step "tools: build, twine, check-wheel-contents (in $WORK/tools)"
"$PYTHON" -m venv "$WORK/tools"
pip_q "$WORK/tools" build twine check-wheel-contents

step "build the sdist and the wheel from a clean copy of the tracked files"
# A copy of what git tracks, so that nothing untracked (a .venv, eval results, egg-info) can
# leak into the sdist.
git -C "$REPO" ls-files -z --cached --others --exclude-standard \
  | (cd "$REPO" && xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | (mkdir -p "$WORK/src" && tar -xf - -C "$WORK/src")
"$WORK/tools/bin/python" -m build --outdir "$WORK/dist" "$WORK/src" >"$WORK/build.log" 2>&1 \
  || { cat "$WORK/build.log"; exit 1; }
ls -l "$WORK/dist"
WHEEL="$(ls "$WORK"/dist/*.whl)"
SDIST="$(ls "$WORK"/dist/*.tar.gz)"

step "twine check --strict (the metadata and README render as PyPI would)"
"$WORK/tools/bin/twine" check --strict "$WORK"/dist/*

step "check-wheel-contents"
"$WORK/tools/bin/check-wheel-contents" "$WORK/dist"

step "what the wheel and the sdist hold, and the metadata"
"$WORK/tools/bin/python" "$REPO/scripts/check_dist.py" "$WHEEL" "$SDIST" "$REPO/pyproject.toml"

step "a fresh virtualenv, outside any checkout: torch (local CPU build), then the wheel"
mkdir -p "$WORK/user/home" "$WORK/user/data"
cd "$WORK/user"
"$PYTHON" -m venv venv
pip_q venv torch==2.13.0
pip_q venv "$WHEEL[langchain]"
# The user's shell: no checkout on sys.path, no PYTHONPATH, no variables of this machine's.
run() {
  env -i HOME="$WORK/user/home" PATH="$WORK/user/venv/bin:/usr/bin:/bin" LANG=C.UTF-8 \
    GROUNDMCP_DATA_DIR="$WORK/user/data" HF_HUB_OFFLINE=1 "$@"
}
run python - <<'EOF'
import importlib.metadata as m, pathlib, sys
import groundmcp
where = pathlib.Path(groundmcp.__file__).resolve()
assert "site-packages" in where.parts, f"groundmcp imported from {where}, not the installed wheel"
print("groundmcp", m.version("groundmcp"), "from", where.parent)
EOF

step "groundmcp --version; groundmcp doctor"
run groundmcp --version
run groundmcp doctor

step "groundmcp ingest + search, from the installed wheel"
mkdir -p project/src project/docs
cat >project/src/retry.py <<'EOF'
import time


def retry_with_backoff(fn, attempts=5, base_delay=0.1):
    """Call fn until it succeeds, sleeping twice as long after each failure."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception:
            time.sleep(base_delay * 2 ** attempt)
    raise RuntimeError("retries exhausted")
EOF
printf '# Guide\n\n## Refunds\n\nRefunds are issued within 14 days to the original payment method.\n' >project/docs/guide.md
run groundmcp ingest project --collection release
run groundmcp search "retry with exponential backoff" -c release -k 3
run groundmcp search "retry with exponential backoff" -c release -k 1 --json >hits.json
run python - <<'EOF'
import json

top = json.load(open("hits.json"))[0]
assert top["path"] == "src/retry.py" and "retry_with_backoff" in (top["symbol"] or ""), top
print("top hit (--json):", f"{top['path']}:{top['start_line']}-{top['end_line']}", top["symbol"])
EOF

step "the MCP server over stdio, and the LangChain extra, from the installed wheel"
run python - <<'EOF'
import os

import anyio
from mcp import Client, StdioServerParameters


async def main() -> None:
    env = {"GROUNDMCP_DATA_DIR": os.environ["GROUNDMCP_DATA_DIR"]}  # MCP clients pass on only what they are given
    params = StdioServerParameters(command="groundmcp", args=["serve"], env=env)
    async with Client(params, read_timeout_seconds=120) as client:
        result = await client.call_tool("search", {"query": "refund policy", "collection": "release", "top_k": 1})
        assert not result.is_error, result
        hit = result.structured_content["hits"][0]
        assert hit["path"] == "docs/guide.md", hit
        print("MCP search over stdio:", hit["citation"])


anyio.run(main)

from groundmcp.integrations.langchain import GroundRetriever, groundmcp_tools

retriever = GroundRetriever.from_settings(collection="release", top_k=1)
print("LangChain retriever:", retriever.invoke("refund policy")[0].metadata["citation"])
retriever.engine.close()
EOF

step "release check passed: $(basename "$WHEEL"), $(basename "$SDIST")"
