import { safeString } from '@acme/core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { PermissionSet } from '../engine/permission.js'
import { RbacErrors } from '../errors.js'
import { kPermissions, type WithPermissions } from '../guard.js'
import type { Authorizer } from '../services/authorizer.js'
import type { RoleAdmin } from '../services/role-admin.js'
import type { RoleStore } from '../services/role-store.js'
import { tenantIdOf } from '../tenancy-bridge.js'

export interface RbacRoutesOptions {
  authorizer: Authorizer
  admin: RoleAdmin
  store: RoleStore
  /** With tenancy, every rbac route works in the request's tenant. */
  tenancy: boolean
}

const roleName = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/)
const permission = safeString().min(1).max(100)
const roleView = z.object({
  id: z.string().describe('The custom role id, or the name of a system role.'),
  name: z.string(),
  description: z.string().nullable(),
  permissions: z.array(z.string()),
  inherits: z.string().nullable(),
  system: z.boolean(),
})
const roleParams = z
  .object({
    roleId: z.union([z.uuid(), roleName]).describe('A custom role id or a system role name.'),
  })
  .strict()

function callerSet(request: FastifyRequest): PermissionSet {
  const granted = (request as WithPermissions)[kPermissions]
  if (!granted) throw new RbacErrors.Forbidden()
  return granted
}

const by = (request: FastifyRequest) => request.principal?.userId ?? ''

export async function rbacRoutes(app: FastifyInstance, options: RbacRoutesOptions) {
  const { authorizer, admin, store } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const tenantOf = (request: FastifyRequest) => tenantIdOf(request)
  const scope = options.tenancy ? ({ tenant: 'required' } as const) : {}
  const view = (
    role: {
      id?: string
      name: string
      description?: string | null
      permissions: readonly string[]
      inherits?: string | null
    },
    system: boolean,
  ) => ({
    id: system ? role.name : (role.id ?? role.name),
    name: role.name,
    description: role.description ?? null,
    permissions: [...role.permissions],
    inherits: role.inherits ?? null,
    system,
  })

  routes.get(
    '/rbac/permissions',
    {
      schema: {
        tags: ['rbac'],
        summary: 'List the permission catalog',
        description: 'Every permission the app and its plugins declare, with who declared it.',
        response: {
          200: z.object({
            items: z.array(
              z.object({ name: z.string(), description: z.string(), owner: z.string() }),
            ),
          }),
        },
      },
      config: { auth: 'required', permission: false, apiKeys: 'allow' },
    },
    async () => ({ items: app.permissions.list() }),
  )

  routes.get(
    '/rbac/roles',
    {
      schema: {
        tags: ['rbac'],
        summary: 'List roles',
        description: 'System roles (defined in code) and the custom roles of the tenant.',
        response: { 200: z.object({ items: z.array(roleView) }) },
      },
      config: { auth: 'required', permission: 'roles:read', ...scope },
    },
    async (request) => {
      const tenantId = tenantOf(request)
      const custom = await store.list(tenantId)
      const system = [...(await authorizer.roles(tenantId)).values()].filter((role) => role.system)
      return {
        items: [
          ...system.map((role) => view(role, true)),
          ...custom.map((role) => view(role, false)),
        ],
      }
    },
  )

  routes.post(
    '/rbac/roles',
    {
      schema: {
        tags: ['rbac'],
        summary: 'Create a role',
        description:
          'A custom role of the tenant. Its permissions must be in the catalog, its parent must ' +
          'exist without closing a cycle, and you must hold everything it grants (403 otherwise).',
        body: z
          .object({
            name: roleName,
            description: safeString().max(200).optional(),
            permissions: z.array(permission).max(200),
            inherits: roleName.nullable().optional(),
          })
          .strict(),
        response: { 201: roleView },
      },
      config: { auth: 'required', permission: 'roles:manage', ...scope },
    },
    async (request, reply) => {
      const tenantId = tenantOf(request)
      const role = await admin.createRole(callerSet(request), tenantId, request.body)
      app.events.emit('role.created', {
        tenantId,
        roleId: role.id,
        name: role.name,
        by: by(request),
      })
      return reply.code(201).send(view(role, false))
    },
  )

  routes.get(
    '/rbac/roles/:roleId',
    {
      schema: {
        tags: ['rbac'],
        summary: 'Get a role',
        description: 'A custom role by id, or a system role by name.',
        params: roleParams,
        response: { 200: roleView },
      },
      config: { auth: 'required', permission: 'roles:read', ...scope },
    },
    async (request) => {
      const tenantId = tenantOf(request)
      const system = (await authorizer.roles(tenantId)).get(request.params.roleId)
      if (system?.system) return view(system, true)
      if (!z.uuid().safeParse(request.params.roleId).success) throw new RbacErrors.RoleNotFound()
      return view(await store.get(tenantId, request.params.roleId), false)
    },
  )

  routes.patch(
    '/rbac/roles/:roleId',
    {
      schema: {
        tags: ['rbac'],
        summary: 'Change a role',
        description:
          'Description, permissions and parent of a custom role (system roles answer 403). You must ' +
          'hold what the role grants before and after the change.',
        params: roleParams,
        body: z
          .object({
            description: safeString().max(200).optional(),
            permissions: z.array(permission).max(200).optional(),
            inherits: roleName.nullable().optional(),
          })
          .strict(),
        response: { 200: roleView },
      },
      config: { auth: 'required', permission: 'roles:manage', ...scope },
    },
    async (request) => {
      const tenantId = tenantOf(request)
      const role = await admin.updateRole(
        callerSet(request),
        tenantId,
        request.params.roleId,
        request.body,
      )
      app.events.emit('role.updated', {
        tenantId,
        roleId: role.id,
        name: role.name,
        by: by(request),
      })
      return view(role, false)
    },
  )

  routes.delete(
    '/rbac/roles/:roleId',
    {
      schema: {
        tags: ['rbac'],
        summary: 'Delete a role',
        description:
          'A custom role no other role inherits from (409 otherwise); members holding it lose what ' +
          'it granted at once. System roles answer 403.',
        params: roleParams,
        response: { 204: z.null() },
      },
      config: { auth: 'required', permission: 'roles:manage', ...scope },
    },
    async (request, reply) => {
      const tenantId = tenantOf(request)
      const role = await admin.deleteRole(callerSet(request), tenantId, request.params.roleId)
      app.events.emit('role.deleted', {
        tenantId,
        roleId: role.id,
        name: role.name,
        by: by(request),
      })
      return reply.code(204).send(null)
    },
  )

  routes.put(
    '/rbac/members/:userId/roles',
    {
      schema: {
        tags: ['rbac'],
        summary: "Set a member's roles",
        description:
          'Replaces the roles. You must hold everything the new roles and the replaced ones grant ' +
          '(no escalation, no demoting someone above you); the last owner keeps the owner role.',
        params: z.object({ userId: z.uuid() }).strict(),
        body: z.object({ roles: z.array(roleName).max(10) }).strict(),
        response: { 200: z.object({ userId: z.uuid(), roles: z.array(z.string()) }) },
      },
      config: { auth: 'required', permission: 'members:manage', ...scope },
    },
    async (request) => {
      const tenantId = tenantOf(request)
      const roles = [...new Set(request.body.roles)]
      await admin.setMemberRoles(callerSet(request), tenantId, request.params.userId, roles)
      app.events.emit('member.roles_changed', {
        tenantId,
        userId: request.params.userId,
        roles,
        by: by(request),
      })
      return { userId: request.params.userId, roles }
    },
  )

  routes.get(
    '/rbac/me/permissions',
    {
      schema: {
        tags: ['rbac'],
        summary: 'What can I do?',
        description:
          'Your roles and effective permissions in the tenant, as catalog names (own-only grants ' +
          'as `resource:action:own`), for user interfaces. API keys see their effective scopes.',
        response: {
          200: z.object({ roles: z.array(z.string()), permissions: z.array(z.string()) }),
        },
      },
      config: { auth: 'required', permission: false, apiKeys: 'allow' },
    },
    async (request) => {
      const tenantId = tenantOf(request)
      const granted = callerSet(request)
      const userId = request.principal?.userId
      const roles = userId ? ((await admin.rolesOf(tenantId, userId)) ?? []) : []
      return {
        roles: request.principal?.type === 'user' ? roles : [],
        permissions: granted.expand(app.permissions.list().map((entry) => entry.name)),
      }
    },
  )
}
