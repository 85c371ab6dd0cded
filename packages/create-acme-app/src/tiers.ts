/** What a buyer sells: each tier is a set of plugins and how tenancy runs. */
export const TIERS = {
  starter: {
    label: 'Starter: auth, roles and permissions, one tenant',
    tenancy: 'single',
    /** Plugins the tier promises that are not published yet: named, never faked. */
    planned: [],
  },
  pro: {
    label:
      'Pro: + many tenants with members and invitations, the audit log, uploads (jobs to come)',
    tenancy: 'multi',
    planned: ['@acme/jobs'],
  },
  enterprise: {
    label: 'Enterprise: Pro + webhooks, feature flags (admin to come)',
    tenancy: 'multi',
    planned: ['@acme/jobs', '@acme/admin'],
  },
} as const

export type Tier = keyof typeof TIERS

export function isTier(value: string): value is Tier {
  return Object.hasOwn(TIERS, value)
}
