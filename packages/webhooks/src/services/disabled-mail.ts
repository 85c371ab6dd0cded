import type { Mailer } from '@acme/core'
import type { EndpointDisabledMail } from '../mail.js'
import { inTenant, type TransactionalClient } from '../sql.js'

/** The system roles whose members are mailed (they hold `webhooks:manage` by default). */
const ADMIN_ROLES = ['owner', 'admin']

/**
 * Mails the tenant's owners and admins (active accounts) that the engine disabled one of its
 * endpoints. Reads the tenant, the endpoint and the members in the tenant (row-level security);
 * each mail is its own `mail.send` job. Resolves with how many were queued.
 */
export async function mailEndpointDisabled(
  prisma: TransactionalClient,
  mailer: Mailer,
  event: { tenantId: string; endpointId: string; reason: 'gone' | 'failing' },
  now: Date,
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
    const admins = await tx.$queryRawUnsafe<Array<{ email: string }>>(
      `SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
       WHERE m.tenant_id = $1::uuid AND m.roles && $2::text[] AND u.status = 'active'
       ORDER BY u.email`,
      event.tenantId,
      ADMIN_ROLES,
    )
    return { endpoint, admins }
  })
  if (!found) return 0
  const { endpoint, admins } = found
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
