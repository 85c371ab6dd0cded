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
} as const
