# A workload's call to entra-token-broker from PowerShell 7 (Az.Accounts + Invoke-RestMethod).
# Dot-source it and call `Get-BrokerToken -Scope <scope>`; answers are kept until refresh_in has
# passed; 429/503 are retried after Retry-After (at most 3 times, never longer than 30 s, up to
# 20 % later so a fleet does not return at once); 400/401/403 are not retried.
#
#   $env:BROKER_URL    https://<function-app>.azurewebsites.net
#   $env:BROKER_SCOPE  the broker's API, e.g. api://entra-token-broker/.default
#
# The workload's own token: Get-AzAccessToken after Connect-AzAccount -Identity (managed identity).

$script:BrokerTokens = @{}

function Get-BrokerToken {
    param([Parameter(Mandatory)] [string] $Scope)

    $held = $script:BrokerTokens[$Scope]
    if ($held -and [DateTimeOffset]::UtcNow -lt $held.RefreshAfter) { return $held.Token }

    $resource = $env:BROKER_SCOPE -replace '/\.default$', ''
    $own = (Get-AzAccessToken -ResourceUrl $resource).Token
    # Az.Accounts 5 returns a SecureString, older versions a string.
    if ($own -is [securestring]) { $own = [System.Net.NetworkCredential]::new('', $own).Password }

    for ($attempt = 1; ; $attempt++) {
        $sentAt = [DateTimeOffset]::UtcNow
        $body = Invoke-RestMethod -Method Post -Uri "$($env:BROKER_URL.TrimEnd('/'))/api/token" `
            -Headers @{ Authorization = "Bearer $own" } -Body @{ scope = $Scope } `
            -SkipHttpErrorCheck -StatusCodeVariable status -ResponseHeadersVariable headers
        if ($status -eq 200) {
            $refreshIn = if ($body.refresh_in) { $body.refresh_in } else { [int]($body.expires_in / 2) }
            $script:BrokerTokens[$Scope] = @{
                Token        = $body.access_token
                RefreshAfter = $sentAt.AddSeconds([Math]::Min($refreshIn, $body.expires_in))
            }
            return $body.access_token
        }
        $retryAfter = 0
        $named = $headers['Retry-After'] -and [int]::TryParse([string]$headers['Retry-After'][0], [ref]$retryAfter)
        if (-not $named) { $retryAfter = $attempt }
        if ($status -notin 429, 503 -or $attempt -gt 3 -or $retryAfter -gt 30) {
            throw "broker answered $status $($body.error): $($body.error_description)"
        }
        $delayMs = [int](1000 * $retryAfter * (1 + 0.2 * (Get-Random -Maximum 1.0)))
        Write-Warning "broker answered $status, retrying after $($delayMs / 1000) s"
        Start-Sleep -Milliseconds $delayMs
    }
}

# $token = Get-BrokerToken -Scope 'api://<third-party-app-id>/.default'
# Invoke-RestMethod -Uri 'https://qualys.example.com/api/...' -Headers @{ Authorization = "Bearer $token" }
