import { TenancyErrors } from '@acme/tenancy'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { PrismaClient } from '../../src/generated/prisma/client.js'
import { DEFAULT_SYSTEM_ROLES, RbacErrors, type RbacOptions } from '../../src/index.js'

declare module '@acme/core' {
  interface AcmeRegister {
    prisma: PrismaClient
  }
}

/** What the test app declares through rbac's `permissions` option. */
export const DOCS_PERMISSIONS = [
  { name: 'docs:read', description: 'Read the documents of the tenant.' },
  { name: 'docs:write', description: 'Create and change documents.' },
] as const

/**
 * The default system roles with the app's `docs` resource in place of `projects` (which this
 * app does not declare), and the grants on resources nobody declares dropped, as rbac drops them
 * for the defaults: owner `*`; admin `docs:*` (and `api-keys:*`, tenancy's); member `docs:read` +
 * `docs:write:own`; viewer `docs:read`.
 */
export const DOCS_SYSTEM_ROLES: NonNullable<RbacOptions['systemRoles']> = DEFAULT_SYSTEM_ROLES.map(
  (role) => ({
    name: role.name,
    ...(role.description ? { description: role.description } : {}),
    permissions: role.permissions
      .map((permission) => permission.replace(/^projects:/, 'docs:'))
      .filter((permission) => {
        const resource = permission.split(':')[0]
        return ['*', 'tenants', 'members', 'roles', 'api-keys', 'docs'].includes(resource ?? '')
      }),
  }),
)

/** rbac options of an app with documents. */
export const docsOptions = (extra: Partial<RbacOptions> = {}): Partial<RbacOptions> => ({
  permissions: [...DOCS_PERMISSIONS],
  systemRoles: DOCS_SYSTEM_ROLES,
  ...extra,
})

const doc = z.object({ id: z.uuid(), ownerId: z.uuid(), title: z.string() })
const idParams = z.object({ id: z.uuid() }).strict()

/**
 * `Doc`, tenant-owned with an owner: listing needs `docs:read`, creating one's own
 * `docs:write:own`, and changing one `docs:write` on it (own-scoped grants count for one's own).
 */
export async function docsRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>()

  routes.get(
    '/docs',
    {
      schema: { tags: ['docs'], response: { 200: z.object({ items: z.array(doc) }) } },
      config: { auth: 'required', tenant: 'required', permission: 'docs:read' },
    },
    async (request) => ({
      items: await request.db.doc.findMany({
        select: { id: true, ownerId: true, title: true },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      }),
    }),
  )

  routes.post(
    '/docs',
    {
      schema: {
        tags: ['docs'],
        body: z.object({ title: z.string().min(1).max(200) }).strict(),
        response: { 201: doc },
      },
      config: { auth: 'required', tenant: 'required', permission: 'docs:write:own' },
    },
    async (request, reply) => {
      const ownerId = request.principal?.userId ?? ''
      const created = await request.db.doc.create({
        data: { title: request.body.title, ownerId, tenantId: request.tenant?.id ?? '' },
        select: { id: true, ownerId: true, title: true },
      })
      return reply.code(201).send(created)
    },
  )

  routes.patch(
    '/docs/:id',
    {
      schema: {
        tags: ['docs'],
        params: idParams,
        body: z.object({ title: z.string().min(1).max(200) }).strict(),
        response: { 200: doc },
      },
      config: { auth: 'required', tenant: 'required', permission: 'docs:write:own' },
    },
    async (request) => {
      const found = await request.db.doc.findUnique({
        where: { id: request.params.id },
        select: { ownerId: true },
      })
      if (!found) throw new TenancyErrors.NotFound()
      if (!request.can('docs:write', { ownerId: found.ownerId })) {
        throw new RbacErrors.Forbidden({ extensions: { missing: ['docs:write'] } })
      }
      return request.db.doc.update({
        where: { id: request.params.id },
        data: { title: request.body.title },
        select: { id: true, ownerId: true, title: true },
      })
    },
  )
}
