#!/usr/bin/env bash
# `npm run examples`: runs the copy-ready examples of docs/clients.md against a local stack of their
# own (npm start's built script on free ports, in a temporary state directory), as a workload would:
# its own token from the emulated Entra, a token from the broker, a call to the stand-in API.
#   bash     client/examples/bash/broker-token.sh (curl + jq)
#   C#       client/examples/dotnet (Azure.Identity + HttpClient): built, then run
#   Python   client/examples/python/broker_token.py (requests), with a stand-in for azure-identity
#            when that is not installed (python/standin: PyPI is out of reach on the CI machine)
# A tool that is missing fails the run, unless EXAMPLES_SKIP_MISSING=1 (then it is reported as skipped).
# Needs `npm run build` first (npm run examples does it).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

missing() {
  if [[ "${EXAMPLES_SKIP_MISSING:-}" == 1 ]]; then echo "SKIP  $1: $2 is not installed"; return 0; fi
  echo "FAIL  $1: $2 is not installed (EXAMPLES_SKIP_MISSING=1 skips it)" >&2
  exit 1
}

[[ -f dist/dev/start.js ]] || { echo "run.sh: dist/dev/start.js is missing: run npm run build first" >&2; exit 1; }

# Build first, with the machine's own TLS trust (NuGet); the run below trusts only the emulator's CA.
have_dotnet=0
if command -v dotnet >/dev/null; then
  dotnet build client/examples/dotnet -c Release -nologo -v q -o "$root/dist/examples/dotnet" >/dev/null
  have_dotnet=1
fi

state="$(mktemp -d)"
# A per-caller rate limit of 6 a minute (one request back every 10 s): before each example the
# caller's allowance is used up, so the example is answered 429 with a Retry-After and must wait it out.
BROKER_STATE_DIR="$state" PORT=0 EMULATOR_PORT=0 EMULATOR_THIRD_PARTY_PORT=0 CALLER_RATE_LIMIT_PER_MINUTE=6 \
  node dist/dev/start.js >"$state/stack.log" 2>&1 &
stack_pid=$!
cleanup() {
  if kill "$stack_pid" 2>/dev/null; then wait "$stack_pid" 2>/dev/null || true; fi
  rm -rf "$state"
}
trap cleanup EXIT

for _ in $(seq 1 600); do
  [[ -f "$state/stack.json" ]] && break
  kill -0 "$stack_pid" 2>/dev/null || { cat "$state/stack.log" >&2; echo "run.sh: the stack did not start" >&2; exit 1; }
  sleep 0.1
done
[[ -f "$state/stack.json" ]] || { echo "run.sh: no stack.json after 60 s" >&2; exit 1; }

stack() { node -p "const s = require('$state/stack.json'); $1"; }
caller='s.callers.find((c) => c.allowedScopes.includes(s.scopes[0]))'
export BROKER_URL AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_AUTHORITY_HOST TOKEN_SCOPE API_URL BROKER_SCOPE
BROKER_URL=$(stack 's.broker.url')
AZURE_TENANT_ID=$(stack 's.entra.tenantId')
AZURE_CLIENT_ID=$(stack "$caller.clientId")
AZURE_CLIENT_SECRET=$(stack "$caller.clientSecret")
AZURE_AUTHORITY_HOST=$(stack 's.entra.authorityHost')
BROKER_SCOPE=$(stack "const a = $caller.audience; a.endsWith('/.default') ? a : a.replace(/\\/+\$/, '') + '/.default'")
TOKEN_SCOPE=$(stack 's.scopes[0]')
API_URL=$(stack 's.thirdPartyApi.url')
ca="$(stack "require('node:path').resolve('$root', s.caCertFile)")"

# Uses up the caller's rate limit at the broker: requests until one is answered 429 with a
# Retry-After of 8 s or more, so the example's request comes too early even after a slow start (a
# shorter Retry-After means a request is nearly back: it is waited for and used up too).
use_up_rate_limit() {
  local own answer
  own=$(curl -sS --cacert "$ca" "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token" -d grant_type=client_credentials \
    --data-urlencode "client_id=$AZURE_CLIENT_ID" --data-urlencode "client_secret=$AZURE_CLIENT_SECRET" \
    --data-urlencode "scope=$BROKER_SCOPE" | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  for _ in $(seq 1 40); do
    # "STATUS RETRY_AFTER" (curl 7.84+ writes a response header with %header{...}).
    answer=$(curl -sS -o /dev/null -w '%{http_code} %header{retry-after}' -H "Authorization: Bearer $own" "$BROKER_URL/api/token")
    if [[ $answer =~ ^429\ ([0-9]+) ]]; then
      (( BASH_REMATCH[1] >= 8 )) && return 0
      sleep "${BASH_REMATCH[1]}"
    fi
  done
  echo "run.sh: the broker never answered 429 with a Retry-After of 8 s or more" >&2; return 1
}

failed=0
# run NAME COMMAND...: passes when the command succeeds, and its output shows that it was answered
# 429 and retried after the Retry-After (the rate limit is used up just before).
run() {
  local name="$1"; shift
  local output verdict=PASS
  use_up_rate_limit
  output=$("$@" 2>&1) || verdict=FAIL
  if [[ $verdict == PASS ]] && ! grep -q 'answered 429, retrying after' <<<"$output"; then
    verdict=FAIL; output+=$'\n(expected a 429 with Retry-After, waited out)'
  fi
  echo "$verdict  $name"; echo "$output" | sed 's/^/        /'
  [[ $verdict == PASS ]] || failed=1
}

if command -v curl >/dev/null && command -v jq >/dev/null; then
  run "bash (curl + jq)" env CURL_CA_BUNDLE="$ca" bash client/examples/bash/broker-token.sh
else
  missing "bash (curl + jq)" "curl or jq"
fi

if [[ $have_dotnet == 1 ]]; then
  # .NET on Linux reads SSL_CERT_FILE: the emulated Entra's certificate comes from the emulator's CA.
  run "C# (Azure.Identity + HttpClient)" env SSL_CERT_FILE="$ca" BROKER_EMULATED_ENTRA=1 \
    dotnet "$root/dist/examples/dotnet/BrokerTokenExample.dll"
else
  missing "C# (Azure.Identity + HttpClient)" dotnet
fi

if command -v python3 >/dev/null && python3 -c 'import requests' 2>/dev/null; then
  if python3 -c 'import azure.identity' 2>/dev/null; then
    run "Python (azure-identity + requests)" env REQUESTS_CA_BUNDLE="$ca" python3 client/examples/python/broker_token.py
  else
    run "Python (requests; a stand-in for azure-identity, which is not installed)" \
      env REQUESTS_CA_BUNDLE="$ca" PYTHONPATH="$root/client/examples/python/standin" \
      python3 client/examples/python/broker_token.py
  fi
else
  missing "Python (requests)" "python3 with requests"
fi

exit "$failed"
