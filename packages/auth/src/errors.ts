import { defineError } from '@acme/core'

/** @acme/auth's catalogue. Codes are public API: see the package README. */
export const AuthErrors = {
  InvalidCredentials: defineError(
    'ACME_AUTH_INVALID_CREDENTIALS',
    401,
    'Invalid Credentials',
    'The email or password is incorrect.',
  ),
  Unauthenticated: defineError(
    'ACME_AUTH_UNAUTHENTICATED',
    401,
    'Unauthorized',
    'A valid access token is required.',
  ),
  InvalidToken: defineError(
    'ACME_AUTH_INVALID_TOKEN',
    401,
    'Unauthorized',
    'The access token is invalid or expired.',
  ),
  ApiKeyNotAllowed: defineError(
    'ACME_AUTH_API_KEY_NOT_ALLOWED',
    403,
    'API Key Not Allowed',
    'This route does not accept API keys; call it as a signed-in user.',
  ),
  InvalidRefreshToken: defineError(
    'ACME_AUTH_INVALID_REFRESH_TOKEN',
    401,
    'Unauthorized',
    'The refresh token is invalid or expired; log in again.',
  ),
  RefreshTokenReuse: defineError(
    'ACME_AUTH_TOKEN_REUSE',
    401,
    'Unauthorized',
    'This refresh token was already used; the session has been ended. Log in again.',
  ),
  WeakPassword: defineError(
    'ACME_AUTH_WEAK_PASSWORD',
    400,
    'Weak Password',
    'The password does not meet the policy.',
  ),
  InvalidResetToken: defineError(
    'ACME_AUTH_INVALID_RESET_TOKEN',
    400,
    'Invalid Reset Token',
    'The password reset link is invalid, used or expired; request a new one.',
  ),
  InvalidVerificationToken: defineError(
    'ACME_AUTH_INVALID_VERIFICATION_TOKEN',
    400,
    'Invalid Verification Token',
    'The verification link is invalid, used or expired; request a new one.',
  ),
  InvalidEmailChangeToken: defineError(
    'ACME_AUTH_INVALID_EMAIL_CHANGE_TOKEN',
    400,
    'Invalid Email Change Token',
    'The email change link is invalid, used or expired, or the address can no longer be used; ' +
      'request the change again.',
  ),
  EmailUnchanged: defineError(
    'ACME_AUTH_EMAIL_UNCHANGED',
    400,
    'Email Unchanged',
    'This is already the email address of your account.',
  ),
  CurrentPasswordInvalid: defineError(
    'ACME_AUTH_CURRENT_PASSWORD_INVALID',
    403,
    'Current Password Required',
    'The current password is missing or wrong.',
  ),
  ReauthenticationRequired: defineError(
    'ACME_AUTH_REAUTHENTICATION_REQUIRED',
    403,
    'Re-authentication Required',
    'Confirm your password to do this.',
  ),
  CsrfHeaderRequired: defineError(
    'ACME_AUTH_CSRF_HEADER_REQUIRED',
    403,
    'CSRF Header Required',
    'Requests that use the refresh cookie must send the X-Requested-With header.',
  ),
  SessionNotFound: defineError(
    'ACME_AUTH_SESSION_NOT_FOUND',
    404,
    'Not Found',
    'The session does not exist.',
  ),
  TooManyAttempts: defineError(
    'ACME_AUTH_TOO_MANY_ATTEMPTS',
    429,
    'Too Many Attempts',
    'Too many attempts; retry after the time given in the Retry-After header.',
  ),
  ThrottleUnavailable: defineError(
    'ACME_AUTH_THROTTLE_UNAVAILABLE',
    503,
    'Service Unavailable',
    'Sign-in is temporarily unavailable; retry shortly.',
  ),
  InvalidMfaCode: defineError(
    'ACME_AUTH_INVALID_MFA_CODE',
    401,
    'Invalid MFA Code',
    'The authentication code or recovery code is wrong, expired or already used.',
  ),
  InvalidMfaToken: defineError(
    'ACME_AUTH_INVALID_MFA_TOKEN',
    401,
    'Unauthorized',
    'The MFA login token is invalid, used or expired; log in again.',
  ),
  MfaAttemptsExceeded: defineError(
    'ACME_AUTH_MFA_ATTEMPTS_EXCEEDED',
    401,
    'Unauthorized',
    'Too many wrong codes for this login; log in again with your password.',
  ),
  MfaAlreadyEnabled: defineError(
    'ACME_AUTH_MFA_ALREADY_ENABLED',
    409,
    'MFA Already Enabled',
    'Two-factor authentication is already enabled; disable it first.',
  ),
  MfaNotEnabled: defineError(
    'ACME_AUTH_MFA_NOT_ENABLED',
    409,
    'MFA Not Enabled',
    'Two-factor authentication is not enabled for this account.',
  ),
  MfaSetupRequired: defineError(
    'ACME_AUTH_MFA_SETUP_REQUIRED',
    409,
    'MFA Setup Required',
    'Start the authenticator setup (POST /mfa/totp/setup) before enabling it.',
  ),
} as const
