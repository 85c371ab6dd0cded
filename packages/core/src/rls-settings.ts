/**
 * The transaction-local PostgreSQL settings row-level security policies read
 * (`current_setting('<name>', true)`): plugins set them with `set_config(name, value, true)` before
 * a query, policies (in the plugins' SQL and the CLI's generated migrations) compare rows with
 * them. One home, so a renamed setting cannot leave a policy reading a name nobody sets.
 */
export const RLS_SETTINGS = {
  /** The request's tenant: tenant-owned rows are visible only where tenant_id matches. */
  tenantId: 'app.tenant_id',
  /** The acting user: a user reaches their own memberships and API keys through it. */
  userId: 'app.user_id',
  /** An API key's public prefix: authentication finds one key by it. */
  apiKeyPrefix: 'app.api_key_prefix',
  /** The SHA-256 of an invitation token: its invitee reaches that one invitation. */
  invitationTokenHash: 'app.invitation_token_hash',
  /**
   * `on` in the webhook relay's own transactions only: it lists which tenants have outbox rows
   * and due deliveries (ids and times, no content) before working on each in its tenant.
   */
  webhooksRelay: 'app.webhooks_relay',
  /**
   * `on` only inside the audit log's `acme_audit_pending_chains` function (run as the tables'
   * owner): it lists which chains have entries waiting to be linked, and nothing else.
   */
  auditPendingChains: 'acme.audit_pending_chains',
} as const

export type RlsSetting = (typeof RLS_SETTINGS)[keyof typeof RLS_SETTINGS]
