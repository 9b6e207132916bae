// A workload's call to entra-token-broker from .NET: Azure.Identity for the workload's own token,
// HttpClient for the broker. BrokerTokenProvider keeps each answer until refresh_in, lets one
// request per scope run at a time, and honours Retry-After on 429/503 (bounded, jittered retries).
//
//   BROKER_URL     https://<function-app>.azurewebsites.net
//   BROKER_SCOPE   the broker's API, e.g. api://entra-token-broker/.default
//   TOKEN_SCOPE    the third-party API's scope, e.g. api://<third-party-app-id>/.default
//   API_URL        (optional) a third-party API URL to call with the token
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Azure.Core;
using Azure.Identity;

string Setting(string name) =>
    Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"{name} is not set");

// The workload's own identity: managed identity or workload identity in Azure; elsewhere a client
// secret from AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET (the local stack uses that).
var credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions
{
    // Only for an authority that is not Microsoft's (the local emulator), which has no instance discovery.
    DisableInstanceDiscovery = Environment.GetEnvironmentVariable("BROKER_EMULATED_ENTRA") == "1",
});

using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
var broker = new BrokerTokenProvider(http, new Uri(Setting("BROKER_URL")), Setting("BROKER_SCOPE"), credential);
var scope = Setting("TOKEN_SCOPE");

var token = await broker.GetTokenAsync(scope);
var again = await broker.GetTokenAsync(scope);
Console.WriteLine($"broker: token for {scope}, expires {token.ExpiresOn:O}, refresh after {token.RefreshAfter:O}, cached: {ReferenceEquals(token, again)}");

if (Environment.GetEnvironmentVariable("API_URL") is { Length: > 0 } apiUrl)
{
    using var request = new HttpRequestMessage(HttpMethod.Get, apiUrl);
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Value);
    using var response = await http.SendAsync(request);
    Console.WriteLine($"third-party API: {(int)response.StatusCode}");
    return response.IsSuccessStatusCode ? 0 : 1;
}
return 0;

/// <summary>A token the broker served; never printed.</summary>
public sealed record BrokerToken(string Value, DateTimeOffset ExpiresOn, DateTimeOffset RefreshAfter);

/// <summary>The broker's refusal: status and its RFC 6749 error fields (never a token).</summary>
public sealed class BrokerRequestException(int status, string? error, string? description, TimeSpan? retryAfter)
    : Exception($"broker answered {status} {error}: {description}")
{
    public int Status { get; } = status;
    public string? Error { get; } = error;
    public string? ErrorDescription { get; } = description;
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

public sealed class BrokerTokenProvider(HttpClient http, Uri brokerUrl, string brokerScope, TokenCredential credential)
{
    private const int MaxRetries = 3;
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);
    private readonly Dictionary<string, (BrokerToken? Token, SemaphoreSlim Gate)> _slots = new();

    public async Task<BrokerToken> GetTokenAsync(string scope, CancellationToken cancellationToken = default)
    {
        SemaphoreSlim gate;
        lock (_slots)
        {
            if (_slots.TryGetValue(scope, out var slot) && slot.Token is { } held && DateTimeOffset.UtcNow < held.RefreshAfter)
                return held;
            gate = _slots.TryGetValue(scope, out slot) ? slot.Gate : (_slots[scope] = (null, new SemaphoreSlim(1, 1))).Gate;
        }
        await gate.WaitAsync(cancellationToken); // one request per scope at a time
        try
        {
            lock (_slots)
            {
                if (_slots[scope].Token is { } fresh && DateTimeOffset.UtcNow < fresh.RefreshAfter) return fresh;
            }
            BrokerToken token;
            try
            {
                token = await RequestWithRetriesAsync(scope, cancellationToken);
            }
            catch (BrokerRequestException) when (HeldToken(scope) is { } held && DateTimeOffset.UtcNow < held.ExpiresOn.AddMinutes(-1))
            {
                return held; // the broker is failing, but the token we hold is still good
            }
            lock (_slots) _slots[scope] = (token, gate);
            return token;
        }
        finally
        {
            gate.Release();
        }
    }

    private BrokerToken? HeldToken(string scope)
    {
        lock (_slots) return _slots[scope].Token;
    }

    private async Task<BrokerToken> RequestWithRetriesAsync(string scope, CancellationToken cancellationToken)
    {
        for (var retry = 1; ; retry++)
        {
            try
            {
                return await RequestOnceAsync(scope, cancellationToken);
            }
            catch (BrokerRequestException e) when (
                retry <= MaxRetries &&
                e.Status is 429 or 503 &&
                (e.RetryAfter ?? TimeSpan.FromSeconds(Math.Pow(2, retry - 1))) is var named &&
                named <= MaxRetryDelay)
            {
                // Never earlier than the broker said; up to 20 % later, so a fleet does not come back at once.
                var delay = named * (1 + 0.2 * Random.Shared.NextDouble());
                Console.Error.WriteLine($"broker answered {e.Status}, retrying after {delay.TotalSeconds:F1} s");
                await Task.Delay(delay, cancellationToken);
            }
        }
    }

    private async Task<BrokerToken> RequestOnceAsync(string scope, CancellationToken cancellationToken)
    {
        var own = await credential.GetTokenAsync(new TokenRequestContext([brokerScope]), cancellationToken);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(brokerUrl, "/api/token"))
        {
            Content = new FormUrlEncodedContent([new("scope", scope)]),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", own.Token);
        var sentAt = DateTimeOffset.UtcNow;
        using var response = await http.SendAsync(request, cancellationToken);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        var json = body.RootElement;
        if (response.StatusCode != HttpStatusCode.OK)
        {
            var retryAfter = response.Headers.RetryAfter is { } header
                ? header.Delta ?? (header.Date - DateTimeOffset.UtcNow)
                : null;
            throw new BrokerRequestException(
                (int)response.StatusCode,
                json.TryGetProperty("error", out var error) ? error.GetString() : null,
                json.TryGetProperty("error_description", out var description) ? description.GetString() : null,
                retryAfter);
        }
        var expiresIn = json.GetProperty("expires_in").GetInt32();
        var refreshIn = json.TryGetProperty("refresh_in", out var r) ? r.GetInt32() : expiresIn / 2;
        return new BrokerToken(
            json.GetProperty("access_token").GetString()!,
            sentAt.AddSeconds(expiresIn),
            sentAt.AddSeconds(Math.Min(refreshIn, expiresIn)));
    }
}
