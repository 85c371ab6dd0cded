import { describe, expect, it } from 'vitest'
import { decodeQuotedPrintable, linkParameter, parseMail } from '../src/mail.js'

// As core's file transport writes it (nodemailer): multipart, quoted-printable, soft breaks.
const EML = [
  'From: Initech <no-reply@initech.io>',
  'To: bob@initech.test',
  'Subject: ann@initech.test invited you to Initech on',
  ' Initech',
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative;',
  ' boundary="--_NmP-1-Part_1"',
  '',
  '----_NmP-1-Part_1',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Accept the invitation: https://api.initech.io/accept-invitation?=',
  'token=3DXSJ-rvGCF9NkY1NI_28HX',
  '',
  'Caf=C3=A9 --=20',
  '',
  '----_NmP-1-Part_1',
  'Content-Type: text/html; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  '<a href=3D"https://example.test/?token=3Dhtml">x</a>',
  '----_NmP-1-Part_1--',
  '',
].join('\r\n')

describe('parseMail', () => {
  it('reads the headers and the plain-text part a person reads, encoding undone', () => {
    const mail = parseMail('a.eml', EML)
    expect(mail.to).toBe('bob@initech.test')
    expect(mail.subject).toBe('ann@initech.test invited you to Initech on Initech')
    expect(mail.text).toContain(
      'https://api.initech.io/accept-invitation?token=XSJ-rvGCF9NkY1NI_28HX\n',
    )
    expect(mail.text).toContain('Café -- ')
    expect(linkParameter(mail.text, 'token')).toBe('XSJ-rvGCF9NkY1NI_28HX')
  })

  it('finds no parameter a link does not carry', () => {
    expect(linkParameter('see https://example.test/?a=1 and https://example.test/b', 'token')).toBe(
      undefined,
    )
    expect(decodeQuotedPrintable('a=3Db=\nc')).toBe('a=bc')
  })
})
