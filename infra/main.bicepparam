// Parameters for main.bicep, read from the environment so one file serves `azd up` (azd exports
// its environment, .azure/<env>/.env, to this file) and `az deployment group create`
// (export the variables in your shell first). See docs/deploying.md for each value.
// Nothing here is a secret: the client credential goes into Key Vault after deployment.
using 'main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'token-broker')

// The broker app registration (docs/deploying.md, "App registrations").
param entraClientId = readEnvironmentVariable('ENTRA_CLIENT_ID', '')
param clientCredentialName = readEnvironmentVariable('CLIENT_CREDENTIAL_NAME', 'entra-client-secret')
param clientCredentialKind = readEnvironmentVariable('CLIENT_CREDENTIAL_KIND', 'secret')
param credentialExists = bool(readEnvironmentVariable('CREDENTIAL_EXISTS', 'false'))

// What the broker serves and to whom.
param tokenScopes = readEnvironmentVariable('TOKEN_SCOPES', '')
param callerAudiences = readEnvironmentVariable('CALLER_AUDIENCES', 'api://entra-token-broker')
param callerTenants = readEnvironmentVariable('CALLER_TENANTS', '')
param callerRequiredRole = readEnvironmentVariable('CALLER_REQUIRED_ROLE', 'Token.Request')
param callerPolicy = json(readEnvironmentVariable('CALLER_POLICY', '{}'))
param tokenMinLifetimeSeconds = int(readEnvironmentVariable('TOKEN_MIN_LIFETIME_SECONDS', '300'))
param callerRateLimitPerMinute = int(readEnvironmentVariable('CALLER_RATE_LIMIT_PER_MINUTE', '600'))
param warmupSchedule = readEnvironmentVariable('WARMUP_SCHEDULE', '0 */5 * * * *')
param expiryWarningDays = readEnvironmentVariable('SECRET_EXPIRY_WARNING_DAYS', '30,14,7,3,1')

// Security (docs/security.md): Easy Auth in front (on unless EASY_AUTH_ENABLED=false), the private
// network (NETWORK_ISOLATION=true), inbound access restrictions (comma-separated; empty: none).
param easyAuthEnabled = bool(readEnvironmentVariable('EASY_AUTH_ENABLED', 'true'))
param networkIsolation = bool(readEnvironmentVariable('NETWORK_ISOLATION', 'false'))
param inboundAllowedIpRanges = filter(
  split(readEnvironmentVariable('INBOUND_ALLOWED_IP_RANGES', ''), ','),
  r => !empty(r)
)
param inboundAllowedServiceTags = filter(
  split(readEnvironmentVariable('INBOUND_ALLOWED_SERVICE_TAGS', ''), ','),
  t => !empty(t)
)

// Operations.
param alertEmail = readEnvironmentVariable('ALERT_EMAIL', '')
param adminPrincipalId = readEnvironmentVariable('AZURE_PRINCIPAL_ID', '')
param adminPrincipalType = readEnvironmentVariable('AZURE_PRINCIPAL_TYPE', 'User')
param alwaysReadyInstances = int(readEnvironmentVariable('ALWAYS_READY_INSTANCES', '0'))
