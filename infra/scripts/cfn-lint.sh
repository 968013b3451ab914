#!/usr/bin/env bash
# Synthesises each scenario against the placeholder Lambda folders (no Rust
# build) and runs cfn-lint on the templates. Exits non-zero on any cfn-lint
# error; warnings are printed but do not fail.
#
#   CFN_LINT=/path/to/venv/bin/cfn-lint bash infra/scripts/cfn-lint.sh
#
# W3005 (a DependsOn that a GetAtt already implies) is ignored: CDK adds it on
# purpose so a function is created only after its role's policy exists.
set -euo pipefail

cd "$(dirname "$0")/.."
cfn_lint="${CFN_LINT:-cfn-lint}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

npx tsc

# Runs the app the way the CDK CLI does (CDK_OUTDIR, CDK_CONTEXT_JSON), once
# per scenario, without the CLI's start-up and build step.
synth() {
  local name="$1" context="$2"
  CDK_OUTDIR="$out/$name" CDK_CONTEXT_JSON="$context" node dist/bin/switchboard.js
}
lambdas='"lambdaDir":"test/fixtures/lambda"'
synth dev "{\"env\":\"dev\",$lambdas}"
synth prod "{\"env\":\"prod\",$lambdas}"
synth prod-jwks "{\"env\":\"prod\",$lambdas,\"jwksUrl\":\"https://id.example.com/jwks.json\"}"

templates=("$out"/*/*.template.json)
echo "cfn-lint $("$cfn_lint" --version | awk '{print $2}') on ${#templates[@]} templates"
"$cfn_lint" --non-zero-exit-code error --ignore-checks W3005 -- "${templates[@]}"
echo "cfn-lint: no errors"
