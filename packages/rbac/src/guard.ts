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
  if (!principal) return null
  return principal.type === 'user'
    ? { type: 'user', userId: principal.userId }
    : { type: 'apiKey', keyId: principal.keyId, userId: principal.userId, scopes: principal.scopes }
}

/**
 * The permission check of each route, built once per route (its requirement read then). It
 * resolves the caller's permissions in the request's tenant (from memory when warm), for the
 * requirement and for `request.can`, and enforces the requirement. A failing lookup answers 503,
 * never lets the request through. A public route that requires nothing gets no check: it has no
 * caller.
 */
export function permissionCheck(authorizer: Authorizer): RouteCheckFactory {
  return (route) => {
    const requirement = requirementOf(route.config)
    if (route.config.auth === 'public' && !requirement) return null
    return (request) => guard(authorizer, requirement, request)
  }
}

async function guard(
  authorizer: Authorizer,
  requirement: Requirement | null | false,
  request: FastifyRequest,
): Promise<void> {
  const principal = principalOf(request)
  const tenantId = tenantIdOf(request)
  let granted = PermissionSet.EMPTY
  if (principal) {
    try {
      granted =
        authorizer.peek(principal, tenantId) ??
        (await authorizer.permissionsOf(principal, tenantId))
    } catch (error) {
      throw new RbacErrors.Unavailable({ cause: error })
    }
  }
  ;(request as WithPermissions)[kPermissions] = granted
  if (!requirement) return
  if (!principal) throw new AuthErrors.Unauthenticated()
  const missing = requirement.all.filter((permission) => !granted.can(permission))
  const anyHeld =
    requirement.any.length === 0 || requirement.any.some((permission) => granted.can(permission))
  if (missing.length === 0 && anyHeld) return
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
