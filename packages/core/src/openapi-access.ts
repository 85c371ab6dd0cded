import type { RouteApiKeyRule, RoutePermissions } from './types.js'

/**
 * What a route's `config` says about who may call it, as the OpenAPI transform reads it. `tenant`
 * is declared by a tenancy plugin, not core: read loosely, shown when present.
 */
export interface RouteAccessConfig {
  auth?: string
  permission?: string | false
  permissions?: RoutePermissions
  tenant?: string | false
}

const SIGN_IN: Record<string, string> = {
  required: 'Sign-in: required.',
  optional: 'Sign-in: optional; a signed-in caller is recognised.',
  public: 'Sign-in: not needed.',
}

const TENANT: Record<string, string> = {
  required: 'Tenant: required; the request names the tenant it acts in.',
  optional: 'Tenant: optional; used when the request names one.',
}

/**
 * The "Access" paragraph of an operation's description: sign-in, tenant, permission and API
 * keys, in words. Interactive docs show descriptions but not `x-` fields, so this is how a
 * reader of the docs learns what a call needs. Null when the route declares none of them.
 */
export function accessDescription(
  config: RouteAccessConfig,
  apiKeys: RouteApiKeyRule,
): string | null {
  const lines: string[] = []
  const signIn = config.auth === undefined ? undefined : SIGN_IN[config.auth]
  if (signIn) lines.push(signIn)
  const tenant =
    config.tenant === false
      ? 'Tenant: none; the route is not tenant-scoped.'
      : config.tenant === undefined
        ? undefined
        : TENANT[config.tenant]
  if (tenant) lines.push(tenant)
  lines.push(...permissionLines(config))
  if (config.auth === 'required' || config.auth === 'optional') {
    lines.push(
      apiKeys === 'allow'
        ? 'API keys: accepted, within their scopes.'
        : 'API keys: refused (403); sign in as a user.',
    )
  }
  if (lines.length === 0) return null
  return ['**Access**', '', ...lines.map((line) => `- ${line}`)].join('\n')
}

function permissionLines(config: RouteAccessConfig): string[] {
  if (typeof config.permission === 'string') return [`Permission: ${code(config.permission)}.`]
  if (config.permission === false) {
    return ['Permission: none; the caller acts on their own account.']
  }
  const lines: string[] = []
  const all = config.permissions?.all ?? []
  const any = config.permissions?.any ?? []
  if (all.length === 1) lines.push(`Permission: ${code(all[0] ?? '')}.`)
  if (all.length > 1) lines.push(`Permissions: all of ${all.map(code).join(', ')}.`)
  if (any.length > 0) lines.push(`Permissions: any one of ${any.map(code).join(', ')}.`)
  return lines
}

/** Permission names are `resource:action[:own]`; backticks keep markdown from reading them. */
function code(name: string): string {
  return `\`${name.replaceAll('`', '')}\``
}
