import { escapeHtml, type Mailer } from '@acme/core'

declare module '@acme/core' {
  interface AcmeMailTemplates {
    'tenancy.invitation': {
      tenantName: string
      inviterName: string | null
      acceptUrl: string
      expiresInDays: number
    }
  }
}

/** The invitation mail; the core layout adds the brand header and footer. */
export function registerTenancyTemplates(mailer: Mailer): void {
  mailer.registerTemplate('tenancy.invitation', (data, brand) => {
    const who = data.inviterName ?? 'A colleague'
    return {
      subject: `${who} invited you to ${data.tenantName} on ${brand.name}`,
      text:
        `${who} invited you to join ${data.tenantName} on ${brand.name}.\n\n` +
        `Accept the invitation: ${data.acceptUrl}\n\n` +
        `The link works once and expires in ${data.expiresInDays} days. ` +
        'If you did not expect it, ignore this message.',
      html:
        `<p>${escapeHtml(who)} invited you to join <strong>${escapeHtml(data.tenantName)}</strong> ` +
        `on ${escapeHtml(brand.name)}.</p>` +
        `<p><a href="${escapeHtml(data.acceptUrl)}">Accept the invitation</a></p>` +
        `<p>The link works once and expires in ${data.expiresInDays} days. ` +
        'If you did not expect it, ignore this message.</p>',
    }
  })
}
