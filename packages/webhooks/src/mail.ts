import { escapeHtml, type Mailer } from '@acme/core'

/** What the mail to a tenant's admins says about an endpoint the engine disabled. */
export interface EndpointDisabledMail {
  tenantName: string
  tenantId: string
  endpointId: string
  /** Scheme, host and path only: a query string may carry the receiver's own token. */
  endpoint: string
  description: string
  reason: 'gone' | 'failing'
  /** How long it had been failing, in whole days (`failing` only). */
  failingDays: number
}

/** The messages webhooks sends; core's layout adds the brand header and footer around them. */
export function registerWebhooksTemplates(mailer: Mailer): void {
  mailer.registerTemplate('webhooks.endpoint-disabled', (data, brand) => {
    const why =
      data.reason === 'gone'
        ? 'its receiver answered 410 Gone, which asks senders to stop'
        : `every delivery to it has failed for ${data.failingDays} day${data.failingDays === 1 ? '' : 's'}, without a success`
    const named = data.description ? ` (${data.description})` : ''
    const reenable = `PATCH /tenants/${data.tenantId}/webhooks/endpoints/${data.endpointId} with {"enabled": true}`
    return {
      subject: `Webhook endpoint disabled in ${data.tenantName}`,
      text:
        `The webhook endpoint ${data.endpoint}${named} of ${data.tenantName} was disabled: ${why}. ` +
        'Its pending deliveries were cancelled, and it receives no events until it is enabled ' +
        `again.\n\nOnce the receiver works, re-enable it (${reenable}) and replay the failed ` +
        `deliveries you need. This message went to the owners and admins of ${data.tenantName} ` +
        `on ${brand.name}.`,
      html:
        `<p>The webhook endpoint <code>${escapeHtml(data.endpoint)}</code>${escapeHtml(named)} ` +
        `of ${escapeHtml(data.tenantName)} was disabled: ${escapeHtml(why)}. Its pending ` +
        'deliveries were cancelled, and it receives no events until it is enabled again.</p>' +
        `<p>Once the receiver works, re-enable it (<code>${escapeHtml(reenable)}</code>) and ` +
        'replay the failed deliveries you need.</p>' +
        `<p>This message went to the owners and admins of ${escapeHtml(data.tenantName)} on ` +
        `${escapeHtml(brand.name)}.</p>`,
    }
  })
}
