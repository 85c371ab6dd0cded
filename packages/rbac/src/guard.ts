import { AuthErrors } from '@acme/auth'
import type { RouteCheckFactory } from '@acme/core'
import type { FastifyContextConfig, FastifyRequest } from 'fastify'
import { PermissionSet } from './engine/permission.js'
import { RbacErrors } from './errors.js'
import type { Authorizer, RbacPrincipal } from './services/authorizer.js'
import { tenantIdOf } from './tenancy-bridge.js'

export const kPermissions = Symbol('acme.rbac.permissions')

export type WithPermissions = FastifyRequest & { [kPermissions]?: PermissionSet }

/** What a route requires: every permission of `all`, and one of `any` when it lists some. */
export interface Requirement {
  all: readonly string[]
  any: readonly string[]
}

/** null: the route declares nothing; false: it declares, on purpose, that none applies. */
export function requirementOf(config: FastifyContextConfig): Requirement | null | false {
  if (config.permission === false) return false
  if (typeof config.permission === 'string') return { all: [config.permission], any: [] }
  if (config.permissions) {
    return { all: config.permissions.all ?? [], any: config.permissions.any ?? [] }
  }
  return null
}

export function principalOf(request: FastifyRequest): RbacPrincipal | null {
  const principal = request.principal
  return principal ? asRbacPrincipal(principal) : null
}

type Caller = NonNullable<FastifyRequest['principal']>

function asRbacPrincipal(principal: Caller): RbacPrincipal {
  return principal.type === 'user'
    ? { type: 'user', userId: principal.userId }
    : { type: 'apiKey', keyId: principal.keyId, userId: principal.userId, scopes: principal.scopes }
}

/**
 * The permission check of each route, built once per route (its requirement read then). It
 * resolves the caller's permissions in the request's tenant (from memory when warm, and then
 * synchronously: no promise), for the requirement and for `request.can`, and enforces the
 * requirement. A failing lookup answers 503, never lets the request through. A public route that
 * requires nothing gets no check: it has no caller.
 */
export function permissionCheck(authorizer: Authorizer): RouteCheckFactory {
  return (route) => {
    const requirement = requirementOf(route.config)
    if (route.config.auth === 'public' && !requirement) return null
    return (request) => guard(authorizer, requirement, request)
  }
}

function guard(
  authorizer: Authorizer,
  requirement: Requirement | null | false,
  request: FastifyRequest,
): Promise<void> | undefined {
  const caller = request.principal
  if (!caller) {
    enforce(request, requirement, PermissionSet.EMPTY, false)
    return undefined
  }
  const tenantId = tenantIdOf(request)
  const warm =
    caller.type === 'user'
      ? authorizer.peekUser(caller.userId, tenantId)
      : authorizer.peek(asRbacPrincipal(caller), tenantId)
  if (warm !== undefined) {
    enforce(request, requirement, warm, true)
    return undefined
  }
  return loadThenEnforce(authorizer, requirement, request, asRbacPrincipal(caller), tenantId)
}

async function loadThenEnforce(
  authorizer: Authorizer,
  requirement: Requirement | null | false,
  request: FastifyRequest,
  principal: RbacPrincipal,
  tenantId: string | null,
): Promise<void> {
  let granted: PermissionSet
  try {
    granted = await authorizer.permissionsOf(principal, tenantId)
  } catch (error) {
    throw new RbacErrors.Unavailable({ cause: error })
  }
  enforce(request, requirement, granted, true)
}

/** Keeps the permissions for `request.can`, then refuses a caller the requirement excludes. */
function enforce(
  request: FastifyRequest,
  requirement: Requirement | null | false,
  granted: PermissionSet,
  hasCaller: boolean,
): void {
  ;(request as WithPermissions)[kPermissions] = granted
  if (!requirement) return
  if (!hasCaller) throw new AuthErrors.Unauthenticated()
  // Loops rather than filter/some: the passing case allocates nothing.
  let allHeld = true
  for (const permission of requirement.all) {
    if (!granted.can(permission)) allHeld = false
  }
  let anyHeld = requirement.any.length === 0
  for (const permission of requirement.any) {
    if (granted.can(permission)) anyHeld = true
  }
  if (allHeld && anyHeld) return
  const missing = requirement.all.filter((permission) => !granted.can(permission))
  const lacking = missing.length > 0 ? missing : [...requirement.any]
  throw new RbacErrors.Forbidden({
    detail:
      missing.length > 0
        ? `Missing permission: ${lacking.join(', ')}.`
        : `Requires one of: ${lacking.join(', ')}.`,
    extensions: { missing: lacking },
  })
}

/** `request.can`: a set lookup on the permissions the guard resolved. */
export function requestCan(
  request: FastifyRequest,
  permission: string,
  context: { ownerId?: string | null } = {},
): boolean {
  const granted = (request as WithPermissions)[kPermissions]
  if (!granted) return false
  return granted.can(permission, {
    ownerId: context.ownerId ?? null,
    userId: request.principal?.userId ?? null,
  })
}
