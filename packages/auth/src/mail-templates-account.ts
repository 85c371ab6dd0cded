import { escapeHtml, type Mailer } from '@acme/core'
import { formatHours } from './mail-templates-password.js'

/**
 * `nora@example.com` → `n***@example.com`: enough for the owner to recognise an address in a
 * security notice, without spelling out someone else's address to whoever reads the mailbox.
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@')
  if (at <= 0) return '***'
  return `${Array.from(email.slice(0, at))[0]}***${email.slice(at)}`
}

/** The paragraph every security notice ends with: what to do when it was not you. */
function ifNotYou(resetUrl: string, supportEmail: string | null) {
  const support = supportEmail ? ` and contact ${supportEmail}` : ''
  const supportHtml = supportEmail
    ? ` and contact <a href="mailto:${escapeHtml(supportEmail)}">${escapeHtml(supportEmail)}</a>`
    : ''
  return {
    text: `If this was not you, reset your password at once at ${resetUrl}${support}.`,
    html:
      `<p>If this was not you, <a href="${escapeHtml(resetUrl)}">reset your password</a> ` +
      `at once${supportHtml}.</p>`,
  }
}

/**
 * Messages about changes to the account: email change, two-factor on or off, a new sign-in, a
 * session ended because its refresh token was reused.
 * Links come from the configured pages only (RST-03); every value is escaped in the HTML part.
 */
export function registerAccountTemplates(mailer: Mailer): void {
  mailer.registerTemplate('auth.email-change-confirm', (data, brand) => {
    const expiry = formatHours(data.expiresInHours)
    return {
      subject: `Confirm your new email address for ${brand.name}`,
      text:
        `Someone asked to use this address to sign in to their ${brand.name} account. To ` +
        `confirm, open this link:\n\n${data.confirmUrl}\n\nThe link works once and expires in ` +
        `${expiry}. If you did not ask for it, ignore this message.`,
      html:
        `<p>Someone asked to use this address to sign in to their ${escapeHtml(brand.name)} ` +
        `account.</p><p><a href="${escapeHtml(data.confirmUrl)}">Confirm my new email ` +
        `address</a></p><p>The link works once and expires in ${escapeHtml(expiry)}. If you ` +
        'did not ask for it, ignore this message.</p>',
    }
  })

  mailer.registerTemplate('auth.email-change-in-use', (data, brand) => ({
    subject: `Your ${brand.name} account`,
    text:
      `Someone tried to use this email address for another ${brand.name} account, but it ` +
      `already belongs to yours, so nothing was changed. If you want to sign in, go to ` +
      `${data.loginUrl}. If not, you can ignore this message.`,
    html:
      `<p>Someone tried to use this email address for another ${escapeHtml(brand.name)} ` +
      'account, but it already belongs to yours, so nothing was changed.</p><p>' +
      `<a href="${escapeHtml(data.loginUrl)}">Sign in</a>, or ignore this message.</p>`,
  }))

  mailer.registerTemplate('auth.email-change-requested', (data, brand) => {
    const help = ifNotYou(data.resetUrl, data.supportEmail)
    return {
      subject: `A change of your ${brand.name} sign-in email was requested`,
      text:
        `A change of your sign-in email to ${data.newEmail} was requested for your ` +
        `${brand.name} account. Nothing changes until the new address is confirmed. ${help.text}`,
      html:
        `<p>A change of your sign-in email to ${escapeHtml(data.newEmail)} was requested for ` +
        `your ${escapeHtml(brand.name)} account. Nothing changes until the new address is ` +
        `confirmed.</p>${help.html}`,
    }
  })

  mailer.registerTemplate('auth.new-sign-in', (data, brand) => {
    const help = ifNotYou(data.resetUrl, data.supportEmail)
    return {
      subject: `New sign-in to your ${brand.name} account`,
      text:
        `Your ${brand.name} account was just signed in to from a device it has not seen ` +
        `recently.\n\nTime: ${data.time}\nIP address: ${data.ip}\nDevice: ${data.device}\n\n` +
        `If this was you, there is nothing to do. ${help.text}`,
      html:
        `<p>Your ${escapeHtml(brand.name)} account was just signed in to from a device it has ` +
        `not seen recently.</p><ul><li>Time: ${escapeHtml(data.time)}</li><li>IP address: ` +
        `${escapeHtml(data.ip)}</li><li>Device: ${escapeHtml(data.device)}</li></ul>` +
        `<p>If this was you, there is nothing to do.</p>${help.html}`,
    }
  })

  mailer.registerTemplate('auth.refresh-reuse', (data, brand) => {
    const help = ifNotYou(data.resetUrl, data.supportEmail)
    return {
      subject: `We signed out a session of your ${brand.name} account`,
      text:
        `A sign-in token of your ${brand.name} account was used again after it had been ` +
        "replaced, which happens when a copy of it is in someone else's hands. To be safe, " +
        `that session was signed out on every device that shared it; sign in again there. ` +
        help.text,
      html:
        `<p>A sign-in token of your ${escapeHtml(brand.name)} account was used again after it ` +
        "had been replaced, which happens when a copy of it is in someone else's hands. To be " +
        'safe, that session was signed out on every device that shared it; sign in again ' +
        `there.</p>${help.html}`,
    }
  })

  mailer.registerTemplate('auth.mfa-enabled', (data, brand) => {
    const help = ifNotYou(data.resetUrl, data.supportEmail)
    return {
      subject: `Two-factor authentication is on for your ${brand.name} account`,
      text:
        `Two-factor authentication was turned on for your ${brand.name} account: signing in ` +
        `now needs a code from your authenticator app. Your other sessions were signed out. ` +
        help.text,
      html:
        `<p>Two-factor authentication was turned on for your ${escapeHtml(brand.name)} ` +
        'account: signing in now needs a code from your authenticator app. Your other ' +
        `sessions were signed out.</p>${help.html}`,
    }
  })

  mailer.registerTemplate('auth.mfa-disabled', (data, brand) => {
    const help = ifNotYou(data.resetUrl, data.supportEmail)
    return {
      subject: `Two-factor authentication is off for your ${brand.name} account`,
      text:
        `Two-factor authentication was turned off for your ${brand.name} account: signing ` +
        `in now needs only your password. Your other sessions were signed out. ${help.text}`,
      html:
        `<p>Two-factor authentication was turned off for your ${escapeHtml(brand.name)} ` +
        'account: signing in now needs only your password. Your other sessions were signed ' +
        `out.</p>${help.html}`,
    }
  })

  mailer.registerTemplate('auth.email-changed', (data, brand) => {
    const help = data.supportEmail
      ? `contact ${data.supportEmail} at once`
      : 'contact support at once'
    const helpHtml = data.supportEmail
      ? `contact <a href="mailto:${escapeHtml(data.supportEmail)}">${escapeHtml(data.supportEmail)}</a> at once`
      : 'contact support at once'
    return {
      subject: `Your ${brand.name} sign-in email was changed`,
      text:
        `The sign-in email of your ${brand.name} account was changed to ${data.newEmail}, and ` +
        `your other sessions were signed out. This address no longer signs in. If this was ` +
        `not you, ${help}.`,
      html:
        `<p>The sign-in email of your ${escapeHtml(brand.name)} account was changed to ` +
        `${escapeHtml(data.newEmail)}, and your other sessions were signed out. This address ` +
        `no longer signs in.</p><p>If this was not you, ${helpHtml}.</p>`,
    }
  })
}
