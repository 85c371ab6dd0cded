import { randomBytes } from 'node:crypto'
import * as OTPAuth from 'otpauth'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeDevice, formatSignInTime } from '../src/services/sign-in-alerts.js'
import { type AuthTestApp, bearer, createAuthApp, register } from './support/app.js'

const PASSWORD = 'correct horse battery'
const DAY = 24 * 3_600
const MAC_CHROME =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'
const IPHONE_SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'
const ANDROID_FIREFOX = 'Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0'
const SUBJECT = 'New sign-in to your Initech account'

let t: AuthTestApp
let quiet: AuthTestApp
let users = 0

beforeAll(async () => {
  t = await createAuthApp(
    {
      mail: { newSignInAlert: true },
      mfa: { encryptionKey: randomBytes(32).toString('base64') },
      throttle: { ipMax: 10_000 },
    },
    { label: 'auth_alert' },
  )
  quiet = await createAuthApp({}, { label: 'auth_alert_off' })
})
afterAll(async () => {
  await t?.close()
  await quiet?.close()
})

function loginFrom(
  app: AuthTestApp,
  email: string,
  userAgent: string,
  remoteAddress = '203.0.113.9',
) {
  return app.app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'user-agent': userAgent },
    remoteAddress,
    payload: { email, password: PASSWORD },
  })
}

/** Every alert to `to` once queued jobs have run: waits for `count`, then a little longer. */
async function alerts(app: AuthTestApp, to: string, count = 0) {
  const deadline = Date.now() + 5_000
  const found = () =>
    app.app.mailer.sent.filter((mail) => mail.to === to && mail.subject === SUBJECT)
  while (found().length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  await new Promise((resolve) => setTimeout(resolve, 100))
  return found()
}

async function newUser(app: AuthTestApp = t) {
  users += 1
  const email = `alert${users}@initech.test`
  expect((await register(app, email)).statusCode).toBe(202)
  return email
}

describe('new sign-in alert', () => {
  it('is not sent on register; a new device gets one with time, IP and device', async () => {
    const email = await newUser()
    expect(await alerts(t, email)).toHaveLength(0)

    const response = await loginFrom(t, email, MAC_CHROME)
    expect(response.statusCode).toBe(200)
    const [mail, ...more] = await alerts(t, email, 1)
    expect(more).toHaveLength(0)
    expect(mail?.text).toContain(`Time: ${formatSignInTime(t.clock.now)}`)
    expect(mail?.text).toContain('IP address: 203.0.113.9')
    expect(mail?.text).toContain('Device: Chrome on macOS')
    expect(mail?.text).toContain('https://api.initech.test/reset-password')
    expect(mail?.html).toContain('Chrome on macOS')
  })

  it('a known device gets none, even after its session ended; another device does', async () => {
    const email = await newUser()
    const first = await loginFrom(t, email, MAC_CHROME)
    expect(await alerts(t, email, 1)).toHaveLength(1)
    // Logged out: the session is revoked, the device is still known.
    await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: bearer(first.json().accessToken),
    })
    expect((await loginFrom(t, email, MAC_CHROME, '198.51.100.1')).statusCode).toBe(200)
    expect(await alerts(t, email)).toHaveLength(1)

    expect((await loginFrom(t, email, IPHONE_SAFARI)).statusCode).toBe(200)
    const sent = await alerts(t, email, 2)
    expect(sent).toHaveLength(2)
    expect(sent[1]?.text).toContain('Device: Safari on iOS')
  })

  it('a device last seen more than 90 days ago is new again', async () => {
    const email = await newUser()
    await loginFrom(t, email, ANDROID_FIREFOX)
    expect(await alerts(t, email, 1)).toHaveLength(1)
    t.clock.advance(89 * DAY)
    await loginFrom(t, email, ANDROID_FIREFOX)
    expect(await alerts(t, email)).toHaveLength(1)
    // The last session started at day 89; 90 days after that, neither counts any more.
    t.clock.advance(91 * DAY)
    await loginFrom(t, email, ANDROID_FIREFOX)
    expect(await alerts(t, email, 2)).toHaveLength(2)
  })

  it('with MFA, the alert follows the code step, not the password step', async () => {
    const email = await newUser()
    const first = await loginFrom(t, email, MAC_CHROME)
    expect(await alerts(t, email, 1)).toHaveLength(1)
    const { accessToken } = first.json()
    const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'POST', url, payload, headers })
    const { secret } = (await post('/auth/mfa/totp/setup', {}, bearer(accessToken))).json()
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) })
    const enabled = await post(
      '/auth/mfa/totp/enable',
      { code: totp.generate({ timestamp: t.clock.now.getTime() }) },
      bearer(accessToken),
    )
    expect(enabled.statusCode).toBe(200)

    const challenge = await loginFrom(t, email, IPHONE_SAFARI)
    expect(challenge.json().mfaRequired).toBe(true)
    expect(await alerts(t, email)).toHaveLength(1)
    const done = await t.app.inject({
      method: 'POST',
      url: '/auth/login/mfa',
      headers: { 'user-agent': IPHONE_SAFARI },
      payload: { mfaToken: challenge.json().mfaToken, code: enabled.json().recoveryCodes[0] },
    })
    expect(done.statusCode).toBe(200)
    const sent = await alerts(t, email, 2)
    expect(sent).toHaveLength(2)
    expect(sent[1]?.text).toContain('Device: Safari on iOS')
  })

  it('is off by default', async () => {
    const email = await newUser(quiet)
    expect((await loginFrom(quiet, email, MAC_CHROME)).statusCode).toBe(200)
    expect((await loginFrom(quiet, email, IPHONE_SAFARI)).statusCode).toBe(200)
    expect(await alerts(quiet, email)).toHaveLength(0)
  })
})

describe('describeDevice', () => {
  it.each([
    [MAC_CHROME, 'Chrome on macOS'],
    [IPHONE_SAFARI, 'Safari on iOS'],
    [ANDROID_FIREFOX, 'Firefox on Android'],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0',
      'Edge on Windows',
    ],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0', 'Firefox on Linux'],
    ['curl/8.5.0', 'curl/8.5.0'],
    ['evil\r\nBcc: x@y', 'evil Bcc: x@y'],
    [null, 'an unknown device'],
  ])('%s → %s', (userAgent, expected) => {
    expect(describeDevice(userAgent)).toBe(expected)
  })
})
