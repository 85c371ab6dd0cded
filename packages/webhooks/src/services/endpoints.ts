import { randomUUID } from 'node:crypto'
import type { Clock } from '@acme/core'
import { WebhooksErrors } from '../errors.js'
import type { SqlClient } from '../sql.js'
import type { WebhookDisabledReason, WebhookEndpointView } from '../types.js'
import { generateSecret, type SecretVault } from './secrets.js'

export interface EndpointInput {
  url: string
  description: string
  eventTypes: string[]
  enabled: boolean
  headers: Record<string, string>
  rateLimitPerSecond: number | null
}

export interface EndpointServiceDeps {
  vault: SecretVault
  clock: Clock
  secretBytes: number
  rotationOverlapSeconds: number
  maxEndpointsPerTenant: number
}

interface EndpointRow {
  id: string
  url: string
  description: string
  eventTypes: string[]
  enabled: boolean
  disabledReason: WebhookDisabledReason | null
  headers: Record<string, string>
  rateLimitPerSecond: number | null
  failingSince: Date | null
  createdAt: Date
  updatedAt: Date
}

const COLUMNS = `id, url, description, event_types AS "eventTypes", enabled,
  disabled_reason AS "disabledReason", headers, rate_limit_per_second AS "rateLimitPerSecond",
  failing_since AS "failingSince", created_at AS "createdAt", updated_at AS "updatedAt"`

const view = (row: EndpointRow): WebhookEndpointView => ({ ...row })

/**
 * The tenant's endpoints. Every statement names the tenant as well as running under its
 * row-level security (`db` is `request.db` or a client in `inTenant`): isolation twice.
 */
export class EndpointService {
  readonly #deps: EndpointServiceDeps

  constructor(deps: EndpointServiceDeps) {
    this.#deps = deps
  }

  async list(db: SqlClient, tenantId: string): Promise<WebhookEndpointView[]> {
    const rows = await db.$queryRawUnsafe<EndpointRow[]>(
      `SELECT ${COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1::uuid ORDER BY created_at, id`,
      tenantId,
    )
    return rows.map(view)
  }

  async get(db: SqlClient, tenantId: string, id: string): Promise<WebhookEndpointView> {
    const rows = await db.$queryRawUnsafe<EndpointRow[]>(
      `SELECT ${COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1::uuid AND id = $2::uuid`,
      tenantId,
      id,
    )
    const row = rows[0]
    if (!row) throw new WebhooksErrors.EndpointNotFound()
    return view(row)
  }

  /** Creates the endpoint; its secret is returned here and never again. */
  async create(
    db: SqlClient,
    tenantId: string,
    input: EndpointInput,
  ): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
    const [count] = await db.$queryRawUnsafe<Array<{ n: number }>>(
      'SELECT count(*)::int AS n FROM webhook_endpoints WHERE tenant_id = $1::uuid',
      tenantId,
    )
    if ((count?.n ?? 0) >= this.#deps.maxEndpointsPerTenant) {
      throw new WebhooksErrors.TooManyEndpoints()
    }
    const id = randomUUID()
    const secret = generateSecret(this.#deps.secretBytes)
    const now = this.#deps.clock()
    const rows = await db.$queryRawUnsafe<EndpointRow[]>(
      `INSERT INTO webhook_endpoints (id, tenant_id, url, description, event_types, enabled,
         disabled_reason, headers, rate_limit_per_second, secret, created_at, updated_at)
       VALUES ($1::uuid, $2::uuid, $3, $4, $5::text[], $6, $7, $8::jsonb, $9, $10, $11, $11)
       RETURNING ${COLUMNS}`,
      id,
      tenantId,
      input.url,
      input.description,
      input.eventTypes,
      input.enabled,
      input.enabled ? null : 'manual',
      JSON.stringify(input.headers),
      input.rateLimitPerSecond,
      this.#deps.vault.seal(secret, id),
      now,
    )
    return { endpoint: view(rows[0] as EndpointRow), secret }
  }

  /** Changes what `patch` names; enabling clears the failure run and the disabled reason. */
  async update(
    db: SqlClient,
    tenantId: string,
    id: string,
    patch: Partial<EndpointInput>,
  ): Promise<WebhookEndpointView> {
    const sets: string[] = []
    const values: unknown[] = [tenantId, id]
    const set = (column: string, value: unknown, cast = '') => {
      values.push(value)
      sets.push(`${column} = $${values.length}${cast}`)
    }
    if (patch.url !== undefined) set('url', patch.url)
    if (patch.description !== undefined) set('description', patch.description)
    if (patch.eventTypes !== undefined) set('event_types', patch.eventTypes, '::text[]')
    if (patch.headers !== undefined) set('headers', JSON.stringify(patch.headers), '::jsonb')
    if (patch.rateLimitPerSecond !== undefined)
      set('rate_limit_per_second', patch.rateLimitPerSecond)
    if (patch.enabled !== undefined) {
      set('enabled', patch.enabled)
      set('disabled_reason', patch.enabled ? null : 'manual')
      if (patch.enabled) sets.push('failing_since = NULL')
    }
    set('updated_at', this.#deps.clock())
    const rows = await db.$queryRawUnsafe<EndpointRow[]>(
      `UPDATE webhook_endpoints SET ${sets.join(', ')}
       WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING ${COLUMNS}`,
      ...values,
    )
    const row = rows[0]
    if (!row) throw new WebhooksErrors.EndpointNotFound()
    return view(row)
  }

  async remove(db: SqlClient, tenantId: string, id: string): Promise<void> {
    const rows = await db.$queryRawUnsafe<Array<{ id: string }>>(
      'DELETE FROM webhook_endpoints WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING id',
      tenantId,
      id,
    )
    if (rows.length === 0) throw new WebhooksErrors.EndpointNotFound()
  }

  /**
   * A new secret, returned once. The old one keeps signing (a second `v1` entry) until the
   * overlap ends, so receivers can switch without losing a delivery.
   */
  async rotateSecret(
    db: SqlClient,
    tenantId: string,
    id: string,
  ): Promise<{ secret: string; previousSecretUntil: Date }> {
    const now = this.#deps.clock()
    const until = new Date(now.getTime() + this.#deps.rotationOverlapSeconds * 1000)
    const secret = generateSecret(this.#deps.secretBytes)
    const rows = await db.$queryRawUnsafe<Array<{ id: string }>>(
      `UPDATE webhook_endpoints
       SET previous_secret = secret, previous_secret_until = $3, secret = $4, updated_at = $5
       WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING id`,
      tenantId,
      id,
      until,
      this.#deps.vault.seal(secret, id),
      now,
    )
    if (rows.length === 0) throw new WebhooksErrors.EndpointNotFound()
    return { secret, previousSecretUntil: until }
  }

  /** The secrets that sign a delivery now: the current one, and the previous one in its overlap. */
  async signingSecrets(db: SqlClient, tenantId: string, id: string): Promise<string[]> {
    const rows = await db.$queryRawUnsafe<
      Array<{ secret: string; previousSecret: string | null; previousSecretUntil: Date | null }>
    >(
      `SELECT secret, previous_secret AS "previousSecret", previous_secret_until AS "previousSecretUntil"
       FROM webhook_endpoints WHERE tenant_id = $1::uuid AND id = $2::uuid`,
      tenantId,
      id,
    )
    const row = rows[0]
    if (!row) throw new WebhooksErrors.EndpointNotFound()
    const secrets = [this.#deps.vault.open(row.secret, id)]
    if (
      row.previousSecret &&
      row.previousSecretUntil &&
      row.previousSecretUntil > this.#deps.clock()
    ) {
      secrets.push(this.#deps.vault.open(row.previousSecret, id))
    }
    return secrets
  }
}
