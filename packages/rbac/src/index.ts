import type {} from '@acme/auth'
import { AcmeConfigError, OWNER_ROLE, parseOptions } from '@acme/core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { RbacDb } from './db.js'
import { PermissionCache } from './engine/cache.js'
import { isPermission, parsePermission } from './engine/permission.js'
import {
  DEFAULT_SYSTEM_ROLES,
  deriveSystemRoles,
  type RoleDefinition,
  validateRole,
} from './engine/roles.js'
import { RbacErrors } from './errors.js'
import {
  kPermissions,
  permissionCheck,
  requestCan,
  requirementOf,
  type WithPermissions,
} from './guard.js'
import { type RbacOptions, rbacOptionsSchema } from './options.js'
import { MEMBER_PERMISSIONS, RBAC_PERMISSIONS } from './permissions.js'
import { rbacRoutes } from './routes/rbac.js'
import { Authorizer } from './services/authorizer.js'
import { RoleAdmin } from './services/role-admin.js'
import { RoleStore, type ScopedRun } from './services/role-store.js'
import { memberRoles, tenancyOf } from './tenancy-bridge.js'
import type { RbacServices } from './types.js'

async function registerRbac(app: FastifyInstance, rawOptions: RbacOptions): Promise<void> {
  const options = parseOptions('@acme/rbac', rbacOptionsSchema, rawOptions)
  if (!app.hasDecorator('auth')) {
    throw new AcmeConfigError('@acme/rbac', ['register @acme/auth before @acme/rbac'])
  }
  const tenancy = tenancyOf(app)

  app.permissions.declare('@acme/rbac', RBAC_PERMISSIONS)
  if (!tenancy) {
    app.permissions.declare(
      '@acme/rbac',
      MEMBER_PERMISSIONS.filter((entry) => !app.permissions.has(entry.name)),
    )
  }
  if (options.permissions.length > 0) app.permissions.declare('app', options.permissions)

  const systemRoles = new Map<string, RoleDefinition>(
    (options.systemRoles ?? DEFAULT_SYSTEM_ROLES).map((role) => [
      role.name,
      { ...role, inherits: role.inherits ?? null, system: true },
    ]),
  )
  if (!systemRoles.has(OWNER_ROLE)) {
    throw new AcmeConfigError('@acme/rbac', [`systemRoles must include "${OWNER_ROLE}"`])
  }

  const run: ScopedRun = (tenantId, work) =>
    tenancy && tenantId !== null
      ? tenancy.withTenant(tenantId, (db) => work(db as unknown as RbacDb))
      : work(app.prisma as unknown as RbacDb)
  const store = new RoleStore(
    run,
    tenancy
      ? (db, tenantId, role) => tenancy.memberRoles.removeRole(db as never, tenantId, role)
      : undefined,
  )
  const cache = new PermissionCache({
    broadcast: app.broadcast,
    ttlMs: options.cacheSeconds * 1_000,
    logger: app.log,
  })
  const authorizer = new Authorizer({
    systemRoles,
    store,
    cache,
    assignedRoles: async (tenantId, userId) => {
      if (tenancy) {
        return tenantId === null ? [] : ((await memberRoles(tenancy, tenantId, userId)) ?? [])
      }
      return (await store.assigned(userId)) ?? options.defaultRoles
    },
  })
  const admin = new RoleAdmin({
    app,
    tenancy,
    authorizer,
    store,
    cache,
    systemRoles,
    defaultRoles: options.defaultRoles,
  })

  const services: RbacServices = {
    async can(principal, permission, context = {}) {
      const granted = await authorizer.permissionsOf(principal, context.tenantId ?? null)
      return granted.can(permission, { ownerId: context.ownerId ?? null, userId: principal.userId })
    },
    permissionsOf: (principal, tenantId) => authorizer.permissionsOf(principal, tenantId),
    roles: (tenantId) => authorizer.roles(tenantId),
    invalidate: (scope) => cache.invalidate(scope),
  }
  app.decorate('rbac', services)
  app.decorateRequest(
    'can',
    function can(this: FastifyRequest, permission: string, context?: { ownerId?: string | null }) {
      return requestCan(this, permission, context)
    },
  )
  // In core's last phase, after authentication and the tenant: caller and tenant are known.
  app.routeChecks.add('authorize', permissionCheck(authorizer))

  tenancy?.setRoleAuthority({
    assertCanAssign: (request, tenantId, roles, replacing) => {
      const caller = (request as WithPermissions)[kPermissions]
      if (!caller) throw new RbacErrors.Forbidden()
      return admin.assertCanAssign(caller, tenantId, roles, replacing)
    },
  })
  const drop = (tenantId: string | null, userId?: string) => {
    cache.invalidate(userId ? { tenantId, principalId: userId } : { tenantId }).catch((error) => {
      app.log.warn({ err: error }, 'rbac: broadcasting a permission change failed')
    })
  }
  app.events.on('member.roles_changed', (event) =>
    drop(event.payload.tenantId, event.payload.userId),
  )
  app.events.on('member.removed', (event) => drop(event.payload.tenantId, event.payload.userId))
  app.events.on('tenant.deleted', (event) => drop(event.payload.tenantId))

  app.addHook('onReady', async () => {
    checkStartup(app, systemRoles, options.systemRoles !== undefined, options.denyByDefault)
  })

  app.openapi.addTag({ name: 'rbac', description: 'Roles and permissions.' })
  await app.register(rbacRoutes, { authorizer, admin, store, tenancy: tenancy !== null })
}

/**
 * Everything named must exist once all plugins and routes are registered: role permissions and
 * route guards against the catalog, and with `denyByDefault` a declaration on every route that
 * needs authentication. Without `systemRoles`, the default roles get what the catalog's
 * declarations grant them (every package and the app have declared by now).
 */
function checkStartup(
  app: FastifyInstance,
  systemRoles: Map<string, RoleDefinition>,
  strictRoles: boolean,
  denyByDefault: boolean,
): void {
  const declared = app.permissions.list()
  const catalog = new Set(declared.map((entry) => entry.name))
  const problems: string[] = []
  if (!strictRoles) {
    const derived = deriveSystemRoles(declared)
    problems.push(...derived.problems)
    for (const role of derived.roles) {
      systemRoles.set(role.name, { ...role, inherits: role.inherits ?? null, system: true })
    }
  }
  for (const [name, role] of systemRoles) {
    for (const problem of validateRole(role, catalog, systemRoles)) {
      problems.push(`system role ${name}: ${problem}`)
    }
  }
  for (const route of app.routeTable.list()) {
    const requirement = requirementOf(route.config)
    const where = `${route.method} ${route.url}`
    if (requirement) {
      for (const permission of [...requirement.all, ...requirement.any]) {
        const parsed = parsePermission(permission)
        const base = parsed && !parsed.own ? permission : permission.replace(/:own$/, '')
        if (!isPermission(permission) || !catalog.has(base)) {
          problems.push(`${where} requires "${permission}", which no package declares`)
        }
      }
    } else if (requirement === null && denyByDefault) {
      const auth = route.config.auth
      if (auth === 'required' || auth === 'optional') {
        problems.push(
          `${where} needs authentication but declares no permission (config.permission, or permission: false)`,
        )
      }
    }
  }
  if (problems.length > 0) throw new AcmeConfigError('@acme/rbac', problems)
}

/** Roles and permissions: register after `@acme/core`, `@acme/auth` (and `@acme/tenancy`). */
export const acmeRbac = fp(registerRbac, {
  name: '@acme/rbac',
  fastify: '5.x',
  dependencies: ['@acme/core', '@acme/auth'],
})

export default acmeRbac

export type { PermissionCacheOptions } from './engine/cache.js'
export { isPermission, PermissionSet } from './engine/permission.js'
export {
  DEFAULT_SYSTEM_ROLES,
  defaultSystemRoles,
  type GrantedPermission,
  type RoleDefinition,
} from './engine/roles.js'
export { RbacErrors } from './errors.js'
export type { RbacOptions, ResolvedRbacOptions } from './options.js'
export { RBAC_PERMISSIONS } from './permissions.js'
export type { RbacPrincipal } from './services/authorizer.js'
export type { CustomRole } from './services/role-store.js'
export type { RbacServices } from './types.js'
