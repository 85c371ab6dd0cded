import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'

declare module '@acme/flags' {
  interface AcmeFlags {
    'beta-reports': boolean
  }
}

/** The flag every new feature starts behind: on for the plans entitled to it, off elsewhere. */
export const betaReportsFlag = {
  key: 'beta-reports',
  type: 'boolean',
  defaultValue: false,
  description: 'The beta reports page: on for plans entitled to beta-reports (Enterprise).',
} as const

/** A feature behind a flag: 404 for tenants it is off for, as if it did not exist. */
export async function reportRoutes(app: FastifyInstance): Promise<void> {
  app.openapi.addTag({ name: 'reports', description: 'Reports on the tenant’s data (beta).' })
  app.withTypeProvider<ZodTypeProvider>().get(
    '/reports/beta',
    {
      schema: {
        tags: ['reports'],
        summary: 'Beta report',
        description:
          "How many projects the tenant has. Behind the `beta-reports` flag: 404 for tenants it is off for (on for the Enterprise plan's entitlement).",
        response: { 200: z.object({ projects: z.number().int().nonnegative() }) },
      },
      config: {
        auth: 'required',
        tenant: 'required',
        permission: 'projects:read',
        flag: 'beta-reports',
      },
    },
    async (request) => ({ projects: await request.db.project.count() }),
  )
}
