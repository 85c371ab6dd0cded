import { escapeHtml, type Mailer } from '@acme/core'

/** "30 minutes", "24 hours": a verification TTL below an hour is stated in minutes. */
export function formatHours(hours: number): string {
  if (hours >= 1 && Number.isInteger(hours)) return hours === 1 ? '1 hour' : `${hours} hours`
  return formatMinutes(Math.round(hours * 60))
}

function formatMinutes(minutes: number): string {
  return minutes === 1 ? '1 minute' : `${minutes} minutes`
}

/**
 * The password reset, password changed and email verification messages. Links come from the
 * configured pages only (RST-03); every value is escaped in the HTML part.
 */
export function registerPasswordTemplates(mailer: Mailer): void {
  mailer.registerTemplate('auth.password-reset', (data, brand) => {
    const expiry = formatMinutes(data.expiresInMinutes)
    return {
      subject: `Reset your ${brand.name} password`,
      text:
        `Someone asked to reset the password of your ${brand.name} account. To choose a new ` +
        `one, open this link:\n\n${data.resetUrl}\n\nThe link works once and expires in ` +
        `${expiry}. If you did not ask for it, ignore this message: your password stays as it is.`,
      html:
        `<p>Someone asked to reset the password of your ${escapeHtml(brand.name)} account.</p>` +
        `<p><a href="${escapeHtml(data.resetUrl)}">Choose a new password</a></p>` +
        `<p>The link works once and expires in ${escapeHtml(expiry)}. If you did not ask for ` +
        'it, ignore this message: your password stays as it is.</p>',
    }
  })

  mailer.registerTemplate('auth.password-changed', (data, brand) => {
    const help = data.supportEmail
      ? `contact ${data.supportEmail} at once`
      : 'reset your password at once and contact support'
    const helpHtml = data.supportEmail
      ? `contact <a href="mailto:${escapeHtml(data.supportEmail)}">${escapeHtml(data.supportEmail)}</a> at once`
      : 'reset your password at once and contact support'
    return {
      subject: `Your ${brand.name} password was changed`,
      text:
        `The password of your ${brand.name} account was just changed, and your other ` +
        `sessions were signed out. If this was not you, ${help}.`,
      html:
        `<p>The password of your ${escapeHtml(brand.name)} account was just changed, and your ` +
        `other sessions were signed out.</p><p>If this was not you, ${helpHtml}.</p>`,
    }
  })

  mailer.registerTemplate('auth.verify-email', (data, brand) => {
    const expiry = formatHours(data.expiresInHours)
    return {
      subject: `Confirm your email address for ${brand.name}`,
      text:
        `Please confirm that this address belongs to your ${brand.name} account by opening ` +
        `this link:\n\n${data.verifyUrl}\n\nThe link works once and expires in ${expiry}. ` +
        'If you did not create an account, ignore this message.',
      html:
        `<p>Please confirm that this address belongs to your ${escapeHtml(brand.name)} ` +
        `account.</p><p><a href="${escapeHtml(data.verifyUrl)}">Confirm my email address</a></p>` +
        `<p>The link works once and expires in ${escapeHtml(expiry)}. If you did not create ` +
        'an account, ignore this message.</p>',
    }
  })
}
