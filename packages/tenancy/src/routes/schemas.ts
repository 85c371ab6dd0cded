import { z } from 'zod'

export const tenantParams = z.object({ tenantId: z.uuid() }).strict()
export const memberParams = z.object({ tenantId: z.uuid(), userId: z.uuid() }).strict()

export const slug = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'lower-case letters, digits and inner dashes')

export const tenantView = z.object({
  id: z.uuid(),
  name: z.string(),
  slug: z.string(),
  plan: z.string(),
  status: z.string(),
  settings: z.record(z.string(), z.unknown()),
  createdAt: z.date(),
  updatedAt: z.date(),
})

export const myTenantView = tenantView.extend({
  roles: z.array(z.string()).describe('Your roles in this tenant.'),
})

export const memberView = z.object({
  userId: z.uuid(),
  email: z.string(),
  name: z.string().nullable(),
  roles: z.array(z.string()),
  joinedAt: z.date(),
})
