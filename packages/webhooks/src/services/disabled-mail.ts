import type { Mailer } from '@acme/core'
import type { EndpointDisabledMail } from '../mail.js'
import { inTenant, type TransactionalClient } from '../sql.js'

/** Without an authorizer: the system roles that hold `webhooks:manage` by default. */
const ADMIN_ROLES = ['owner', 'admin']

/**
 * Whether a member holds a permission in the tenant: `@acme/rbac`'s public `app.rbac.can`, when
 * the app has it, so members of custom roles granted `webhooks:manage` are mailed too.
 */
export type CanManage = (userId: string, tenantId: string) => Promise<boolean>

/**
 * Mails the tenant's members (active accounts) who may manage its webhooks that the engine
 * disabled one of its endpoints: those `canManage` admits (`webhooks:manage`, through custom
 * roles too), or without it the owners and admins. Reads the tenant, the endpoint and the
 * members in the tenant (row-level security); each mail is its own `mail.send` job. Resolves
 * with how many were queued.
 */
export async function mailEndpointDisabled(
  prisma: TransactionalClient,
  mailer: Mailer,
  event: { tenantId: string; endpointId: string; reason: 'gone' | 'failing' },
  now: Date,
  canManage: CanManage | null = null,
): Promise<number> {
  const found = await inTenant(prisma, event.tenantId, async (tx) => {
    const [endpoint] = await tx.$queryRawUnsafe<
      Array<{ url: string; description: string; failingSince: Date | null; tenantName: string }>
    >(
      `SELECT e.url, e.description, e.failing_since AS "failingSince", t.name AS "tenantName"
       FROM webhook_endpoints e JOIN tenants t ON t.id = e.tenant_id
       WHERE e.tenant_id = $1::uuid AND e.id = $2::uuid`,
      event.tenantId,
      event.endpointId,
    )
    if (!endpoint) return null
    const members = await tx.$queryRawUnsafe<Array<{ userId: string; email: string }>>(
      `SELECT u.id AS "userId", u.email FROM memberships m JOIN users u ON u.id = m.user_id
       WHERE m.tenant_id = $1::uuid AND ($2::text[] IS NULL OR m.roles && $2::text[])
         AND u.status = 'active'
       ORDER BY u.email`,
      event.tenantId,
      canManage ? null : ADMIN_ROLES,
    )
    return { endpoint, members }
  })
  if (!found) return 0
  const { endpoint, members } = found
  const admins: typeof members = []
  for (const member of members) {
    if (!canManage || (await canManage(member.userId, event.tenantId))) admins.push(member)
  }
  const url = new URL(endpoint.url)
  const data: EndpointDisabledMail = {
    tenantName: endpoint.tenantName,
    tenantId: event.tenantId,
    endpointId: event.endpointId,
    endpoint: `${url.protocol}//${url.host}${url.pathname}`,
    description: endpoint.description,
    reason: event.reason,
    failingDays: endpoint.failingSince
      ? Math.floor((now.getTime() - endpoint.failingSince.getTime()) / 86_400_000)
      : 0,
  }
  for (const admin of admins) {
    await mailer.sendTemplate('webhooks.endpoint-disabled', admin.email, data)
  }
  return admins.length
}
