import { type Clock, deleteInBatches, RLS_SETTINGS } from '@acme/core'
import { inTenant, type TransactionalClient } from '../sql.js'

/**
 * Payload retention: messages older than `retentionDays` go, with their deliveries and attempt
 * log (cascade), once none of their deliveries is still pending; so do finished replays (`marked`
 * or `failed`) last changed before then, once none of their deliveries is pending (a delivery
 * that outlives its replay loses only the link). The tenants that have either are listed under
 * the relay's read-only policy; every DELETE runs in its tenant.
 */
export async function purgeMessages(
  prisma: TransactionalClient,
  clock: Clock,
  settings: { retentionDays: number; batchSize: number },
): Promise<{ tenants: number; deleted: number; replays: number }> {
  const cutoff = new Date(clock().getTime() - settings.retentionDays * 86_400_000)
  const tenants = await prisma.$transaction(async (tx) => {
    await tx.$queryRawUnsafe(
      `SELECT set_config('${RLS_SETTINGS.webhooksRelay}', 'on', true)::text AS ok`,
    )
    return tx.$queryRawUnsafe<Array<{ tenantId: string }>>(
      `SELECT tenant_id AS "tenantId" FROM webhook_messages WHERE created_at < $1
       UNION
       SELECT tenant_id FROM webhook_replays
       WHERE updated_at < $1 AND state IN ('marked', 'failed')`,
      cutoff,
    )
  })
  let deleted = 0
  let replays = 0
  for (const { tenantId } of tenants) {
    const purgeInTenant = (statement: string) =>
      deleteInBatches(settings.batchSize, (limit) =>
        inTenant(prisma, tenantId, async (tx) => {
          const rows = await tx.$queryRawUnsafe<Array<{ id: string }>>(
            statement,
            tenantId,
            cutoff,
            limit,
          )
          return rows.length
        }),
      )
    deleted += await purgeInTenant(PURGE_MESSAGES)
    replays += await purgeInTenant(PURGE_REPLAYS)
  }
  return { tenants: tenants.length, deleted, replays }
}

const PURGE_MESSAGES = `DELETE FROM webhook_messages WHERE id IN (
  SELECT m.id FROM webhook_messages m
  WHERE m.tenant_id = $1::uuid AND m.created_at < $2 AND m.relayed_at IS NOT NULL
    AND NOT EXISTS (
      SELECT 1 FROM webhook_deliveries d WHERE d.message_id = m.id AND d.status = 'pending'
    )
  ORDER BY m.created_at LIMIT $3
) RETURNING id`

const PURGE_REPLAYS = `DELETE FROM webhook_replays WHERE id IN (
  SELECT r.id FROM webhook_replays r
  WHERE r.tenant_id = $1::uuid AND r.updated_at < $2 AND r.state IN ('marked', 'failed')
    AND NOT EXISTS (
      SELECT 1 FROM webhook_deliveries d WHERE d.replay_id = r.id AND d.status = 'pending'
    )
  ORDER BY r.updated_at LIMIT $3
) RETURNING id`
