#!/usr/bin/env bash
# The one test command: installs what the tests need, starts moto, runs every test.
#
#   scripts/test.sh            # everything: fmt, clippy, Rust (embedded + moto), bench smoke, infra
#
# Installs a pinned moto server, cfn-lint, boto3 and the AWS CLI into .venv (nothing global),
# the README's Node.js example's SDK into tests/readme, starts moto on a
# free loopback port, runs `cargo test --workspace` with the moto-backed tests required,
# then the infra tests and cfn-lint. Moto is stopped on every exit path.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
venv="$root/.venv"

step() { printf '\n==> %s\n' "$*"; }

step "python tools in $venv (moto $MOTO_VERSION, cfn-lint $CFN_LINT_VERSION)"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
want="moto[server]==$MOTO_VERSION cfn-lint==$CFN_LINT_VERSION boto3 awscli"
installed="import moto, cfnlint, boto3, awscli; assert moto.__version__ == '$MOTO_VERSION'"
if ! "$venv/bin/python" -c "$installed" 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want
fi

step "npm ci in tests/readme (the README's Node.js example imports its SDK)"
npm ci --prefix tests/readme --no-audit --no-fund --loglevel=error

step "starting moto server"
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_log="$root/target/moto.log"
mkdir -p "$root/target"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "moto server exited during start-up; its log:" >&2
    cat "$moto_log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null || { echo "moto did not answer on port $port" >&2; exit 1; }
echo "moto listening on 127.0.0.1:$port"

export MOTO_ENDPOINT="http://127.0.0.1:$port"
export SWITCHBOARD_REQUIRE_MOTO=1
export SWITCHBOARD_PYTHON="$venv/bin/python"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1

step "cargo fmt --check, cargo clippy -D warnings"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings

step "cargo test --workspace"
cargo test --workspace --no-fail-fast

step "benchmarks, smoke mode (tiny sizes: they must run, figures are not judged)"
cargo run --quiet -p switchboard-bench -- all --smoke

if [ -f infra/package.json ]; then
  step "infra: npm ci, tests, cfn-lint"
  (cd infra && npm ci --no-audit --no-fund --loglevel=error && npm test)
  CFN_LINT="$venv/bin/cfn-lint" bash infra/scripts/cfn-lint.sh
fi

step "all tests passed"
