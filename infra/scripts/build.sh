#!/usr/bin/env bash
# Compiles and lints every Bicep file in infra/ to ARM JSON, offline. Fails on any diagnostic
# (error, warning or info) from the compiler or the linter: `bicep lint` and `bicep build` exit 0
# on warnings, so their stderr is checked too.
#
# Output: $INFRA_OUT_DIR (default infra/.bicep/out, gitignored):
#   main.json             the compiled template
#   main.parameters.json           main.bicepparam compiled against a sample environment (below)
#   main.isolated.parameters.json  the same with NETWORK_ISOLATION=true (the private-network mode)
# Bicep CLI: $BICEP_PATH, else whatever infra/scripts/get-bicep.sh finds or fetches.
# Linter rules: infra/bicepconfig.json (security rules at error level). use-recent-api-versions is
# off on purpose: it compares API versions with today's date, so the build would break by itself.
set -euo pipefail

infra="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${INFRA_OUT_DIR:-$infra/.bicep/out}"
bicep="${BICEP_PATH:-$(bash "$infra/scripts/get-bicep.sh")}"
mkdir -p "$out"

errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
failed=0

# run LABEL COMMAND...: runs one Bicep command; any stderr output or a non-zero exit is a failure.
run() {
  local label="$1"
  shift
  local status=0
  "$@" 2>"$errors" >/dev/null || status=$?
  if [ "$status" -ne 0 ] || [ -s "$errors" ]; then
    echo "infra:build: $label FAILED (exit $status)" >&2
    cat "$errors" >&2
    failed=1
  else
    echo "infra:build: $label ok"
  fi
}

echo "infra:build: $("$bicep" --version)"

# Every .bicep file, so a module that main.bicep stops using is still checked. (A pattern that
# matches nothing passes silently, hence the count.)
count="$(find "$infra" -type f -name '*.bicep' -not -path '*/.bicep/*' | wc -l)"
if [ "$count" -lt 2 ]; then
  echo "infra:build: expected main.bicep and its modules under $infra, found $count .bicep files" >&2
  exit 1
fi
run "lint $count .bicep files" bash -c 'cd "$1" && "$2" lint --pattern "**/*.bicep"' lint "$infra" "$bicep"

# Formatting: `bicep format` a copy and compare (fix with: cd infra && bicep format --pattern '**/*.bicep*').
formatted="$(mktemp -d)"
(cd "$infra" && find . -type f \( -name '*.bicep' -o -name '*.bicepparam' -o -name bicepconfig.json \) \
  -not -path './.bicep/*' -exec cp --parents {} "$formatted" \;)
run "format check" bash -c 'cd "$1" && "$2" format --pattern "**/*.bicep" && "$2" format --pattern "**/*.bicepparam" &&
  cd "$3" && for f in $(find . -type f -name "*.bicep*" -not -path "./.bicep/*"); do
    diff -u "$f" "$1/$f" >&2 || true; done' format "$formatted" "$bicep" "$infra"
rm -rf "$formatted"

run "build main.bicep" "$bicep" build "$infra/main.bicep" --outfile "$out/main.json"

# main.bicepparam reads the deployment's environment (azd or the shell); required values have no
# default on purpose. Compile it against a complete sample environment, in a clean environment so a
# developer's own variables cannot change the result.
sample_env=(
  "PATH=$PATH"
  "HOME=$HOME"
  "AZURE_ENV_NAME=ci-sample"
  "ENTRA_CLIENT_ID=11111111-1111-1111-1111-111111111111"
  "TOKEN_SCOPES=api://22222222-2222-2222-2222-222222222222/.default"
  "CALLER_AUDIENCES=api://entra-token-broker"
  'CALLER_POLICY={"33333333-3333-3333-3333-333333333333":["api://22222222-2222-2222-2222-222222222222/.default"]}'
  "ALERT_EMAIL=ops@example.com"
  "AZURE_PRINCIPAL_ID=44444444-4444-4444-4444-444444444444"
)
run "build-params main.bicepparam" env -i "${sample_env[@]}" "$bicep" build-params "$infra/main.bicepparam" \
  --outfile "$out/main.parameters.json"
run "build-params main.bicepparam (NETWORK_ISOLATION=true)" env -i "${sample_env[@]}" NETWORK_ISOLATION=true \
  "$bicep" build-params "$infra/main.bicepparam" --outfile "$out/main.isolated.parameters.json"

if [ "$failed" -ne 0 ]; then
  echo "infra:build: failed; every diagnostic above must be fixed (warnings included)" >&2
  exit 1
fi
echo "infra:build: ARM JSON in $out"
