import type { FastifyContextConfig } from 'fastify'
import type { RouteApiKeyRule } from './types.js'

/**
 * The one rule for API keys, read by the authentication plugin and the OpenAPI document alike.
 * A key is a machine credential with scopes, and scopes are permissions: a route that declares a
 * permission is open to keys (the scopes must grant it). A route on the caller's own account
 * (`permission: false`) or with no declaration at all would let a key act beyond its scopes, so
 * it is closed to keys unless it says `apiKeys: 'allow'`.
 */
export function apiKeyRule(config: FastifyContextConfig | undefined): RouteApiKeyRule {
  if (config?.apiKeys) return config.apiKeys
  if (typeof config?.permission === 'string') return 'allow'
  const permissions = config?.permissions
  if (permissions && (permissions.all?.length ?? 0) + (permissions.any?.length ?? 0) > 0) {
    return 'allow'
  }
  return 'deny'
}
