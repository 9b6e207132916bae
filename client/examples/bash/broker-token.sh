#!/usr/bin/env bash
# A workload's call to entra-token-broker from bash (curl + jq). Source it and call
# `broker_token SCOPE`: it sets BROKER_TOKEN (not printed, and not in a subshell, so the cache
# lasts). Or run it: it prints nothing secret, and calls API_URL with the token if set.
#
#   BROKER_URL    https://<function-app>.azurewebsites.net
#   BROKER_SCOPE  the broker's API, e.g. api://entra-token-broker/.default
#   TOKEN_SCOPE   (when run) the third-party API's scope, e.g. api://<third-party-app-id>/.default
#
# The workload's own token: `az account get-access-token` (managed identity after
# `az login --identity`), or client credentials with curl when AZURE_CLIENT_SECRET is set.
# Answers are kept until refresh_in has passed; 429/503 are retried after Retry-After
# (at most 3 times, never longer than 30 s, up to 20 % later so a fleet does not return at once).
set -euo pipefail

declare -A BROKER_TOKENS=() BROKER_REFRESH_AT=()

caller_token() {
  if [[ -n "${AZURE_CLIENT_SECRET:-}" ]]; then
    curl -sS --fail-with-body "${AZURE_AUTHORITY_HOST:-https://login.microsoftonline.com}/${AZURE_TENANT_ID}/oauth2/v2.0/token" \
      -d grant_type=client_credentials --data-urlencode "client_id=${AZURE_CLIENT_ID}" \
      --data-urlencode "client_secret=${AZURE_CLIENT_SECRET}" --data-urlencode "scope=${BROKER_SCOPE}" |
      jq -er .access_token
  else
    az account get-access-token --scope "${BROKER_SCOPE}" --query accessToken -o tsv
  fi
}

# broker_token SCOPE: sets BROKER_TOKEN for SCOPE (from the cache while refresh_in has not passed;
# BROKER_TOKEN_CACHED says which).
broker_token() {
  local scope="$1" now; now=$(date +%s)
  if [[ -n "${BROKER_TOKENS[$scope]:-}" && $now -lt ${BROKER_REFRESH_AT[$scope]} ]]; then
    BROKER_TOKEN=${BROKER_TOKENS[$scope]} BROKER_TOKEN_CACHED=1; return 0
  fi
  local own headers body status retry_after attempt
  own=$(caller_token) || { echo "broker_token: the workload's own credential failed" >&2; return 1; }
  headers=$(mktemp); body=$(mktemp)
  for attempt in 1 2 3 4; do
    status=$(curl -sS -o "$body" -D "$headers" -w '%{http_code}' -X POST "${BROKER_URL%/}/api/token" \
      -H "Authorization: Bearer ${own}" --data-urlencode "scope=${scope}") || status=000
    if [[ $status == 200 ]]; then
      BROKER_TOKENS[$scope]=$(jq -er .access_token "$body")
      BROKER_REFRESH_AT[$scope]=$(( $(date +%s) + $(jq -er '.refresh_in // (.expires_in / 2 | floor)' "$body") ))
      rm -f "$headers" "$body"
      BROKER_TOKEN=${BROKER_TOKENS[$scope]} BROKER_TOKEN_CACHED=0; return 0
    fi
    retry_after=$(tr -d '\r' <"$headers" | awk -F': *' 'tolower($1) == "retry-after" { print $2 }')
    if [[ ($status == 429 || $status == 503) && $attempt -lt 4 && ${retry_after:-1} =~ ^[0-9]+$ && ${retry_after:-1} -le 30 ]]; then
      local delay=${retry_after:-$attempt}
      delay=$(( delay + RANDOM % (delay / 5 + 1) ))
      echo "broker_token: the broker answered ${status}, retrying after ${delay} s" >&2
      sleep "$delay"; continue
    fi
    break
  done
  # 400/401/403 are not retried: the same request would get the same answer.
  echo "broker_token: the broker answered ${status}: $(jq -c '{error, error_description}' "$body" 2>/dev/null)" >&2
  rm -f "$headers" "$body"
  return 1
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  broker_token "${TOKEN_SCOPE}"
  broker_token "${TOKEN_SCOPE}"
  echo "broker: got a token for ${TOKEN_SCOPE}; the second call was served from the cache: ${BROKER_TOKEN_CACHED}"
  if [[ -n "${API_URL:-}" ]]; then
    api_status=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${BROKER_TOKEN}" "${API_URL}")
    echo "third-party API: ${api_status}"
    [[ $api_status == 200 ]]
  fi
fi
