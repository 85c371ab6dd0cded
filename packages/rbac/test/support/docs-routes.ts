import { TenancyErrors } from '@acme/tenancy'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { PrismaClient } from '../../src/generated/prisma/client.js'
import { RbacErrors, type RbacOptions } from '../../src/index.js'

declare module '@acme/core' {
  interface AcmeRegister {
    prisma: PrismaClient
  }
}

/**
 * What the test app declares through rbac's `permissions` option, with the grants the default
 * system roles take from it: `docs:read` the default for a read (admin, member, viewer),
 * `docs:write` admin fully and member on their own documents. With tenancy's and rbac's own
 * declarations: owner `*`; admin every permission but `tenants:delete`; member `members:read`,
 * `docs:read`, `docs:write:own`; viewer `members:read`, `docs:read`.
 */
export const DOCS_PERMISSIONS = [
  { name: 'docs:read', description: 'Read the documents of the tenant.' },
  {
    name: 'docs:write',
    description: 'Create and change documents.',
    grant: { admin: true, member: 'own' },
  },
] as const satisfies NonNullable<RbacOptions['permissions']>

/** rbac options of an app with documents. */
export const docsOptions = (extra: Partial<RbacOptions> = {}): Partial<RbacOptions> => ({
  permissions: [...DOCS_PERMISSIONS],
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
