import { escapeHtml, type Mailer } from '@acme/core'

/** The messages auth sends; the core layout adds the brand header and footer around them. */
export function registerAuthTemplates(mailer: Mailer): void {
  mailer.registerTemplate('auth.welcome', (data, brand) => ({
    subject: `Welcome to ${brand.name}`,
    text: `Hello${data.name ? ` ${data.name}` : ''},\n\nyour ${brand.name} account is ready. Sign in at ${data.loginUrl}`,
    html:
      `<p>Hello${data.name ? ` ${escapeHtml(data.name)}` : ''},</p>` +
      `<p>your ${escapeHtml(brand.name)} account is ready. ` +
      `<a href="${escapeHtml(data.loginUrl)}">Sign in</a>.</p>`,
  }))
  mailer.registerTemplate('auth.account-exists', (data, brand) => ({
    subject: `Your ${brand.name} account`,
    text:
      `Someone tried to create a ${brand.name} account with this email address, which already ` +
      `has one. If it was you, sign in at ${data.loginUrl} or reset your password at ` +
      `${data.resetUrl}. If not, you can ignore this message.`,
    html:
      `<p>Someone tried to create a ${escapeHtml(brand.name)} account with this email address, ` +
      `which already has one.</p><p>If it was you, <a href="${escapeHtml(data.loginUrl)}">sign in</a> ` +
      `or <a href="${escapeHtml(data.resetUrl)}">reset your password</a>. ` +
      'If not, you can ignore this message.</p>',
  }))
}
