#!/usr/bin/env bash
# Prints the path of a usable Bicep CLI on stdout, and nothing else there (logs go to stderr).
# Order: $BICEP_PATH, a `bicep` on PATH, the one `az bicep install` put in the Azure CLI folder,
# else the pinned official CLI restored from NuGet (Azure.Bicep.CommandLine.linux-x64, see
# infra/bicep-cli/bicep-cli.csproj) into $BICEP_CACHE_DIR (default ~/.cache/entra-token-broker/bicep).
# Exits non-zero, with the reason on stderr, when none can be had.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$here/../bicep-cli/bicep-cli.csproj"
package_id="Azure.Bicep.CommandLine.linux-x64"

log() { echo "get-bicep: $*" >&2; }

pinned_version="$(sed -n 's/.*Include="'"$package_id"'" Version="\[\([0-9.]*\)\]".*/\1/p' "$project")"
if [ -z "$pinned_version" ]; then
  log "cannot read the pinned version of $package_id from $project"
  exit 1
fi

# Runs "$1 --version"; succeeds when it prints a Bicep version. Warns when it is not the pinned one.
usable() {
  local candidate="$1" version
  [ -x "$candidate" ] || return 1
  version="$("$candidate" --version 2>/dev/null | sed -n 's/^Bicep CLI version \([0-9.]*\).*/\1/p')" || return 1
  [ -n "$version" ] || return 1
  if [ "$version" != "$pinned_version" ]; then
    log "note: $candidate is Bicep $version; the project is checked with $pinned_version"
  fi
  return 0
}

if [ -n "${BICEP_PATH:-}" ]; then
  if usable "$BICEP_PATH"; then
    echo "$BICEP_PATH"
    exit 0
  fi
  log "BICEP_PATH=$BICEP_PATH is not a working Bicep CLI"
  exit 1
fi

if on_path="$(command -v bicep 2>/dev/null)" && usable "$on_path"; then
  echo "$on_path"
  exit 0
fi

az_bicep="${AZURE_CONFIG_DIR:-$HOME/.azure}/bin/bicep"
if usable "$az_bicep"; then
  echo "$az_bicep"
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *)
    log "no Bicep CLI found, and only linux-x64 is fetched automatically; install Bicep (az bicep install) or set BICEP_PATH"
    exit 1
    ;;
esac

cache_dir="${BICEP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/entra-token-broker/bicep}"
package_lower="$(echo "$package_id" | tr '[:upper:]' '[:lower:]')"
restored="$cache_dir/packages/$package_lower/$pinned_version/tools/bicep"

if [ ! -f "$restored" ]; then
  if ! command -v dotnet >/dev/null 2>&1; then
    log "no Bicep CLI found and no dotnet to fetch $package_id $pinned_version from NuGet; install Bicep or set BICEP_PATH"
    exit 1
  fi
  sdk_major="$(dotnet --version | cut -d. -f1)"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp "$project" "$work/bicep-cli.csproj"
  log "restoring $package_id $pinned_version from NuGet into $cache_dir"
  if ! dotnet restore "$work/bicep-cli.csproj" --packages "$cache_dir/packages" \
    -p:TargetFramework="net$sdk_major.0" --nologo --verbosity quiet >&2; then
    log "dotnet restore of $package_id $pinned_version failed"
    exit 1
  fi
fi

# NuGet does not keep the executable bit.
chmod +x "$restored"
if ! usable "$restored"; then
  log "$restored does not run"
  exit 1
fi
echo "$restored"
