import type { PrismaClient } from './generated/prisma/client.js'

/**
 * The part of the host's PrismaClient this plugin uses. The host's client is generated from the
 * merged schema, which contains this plugin's fragment, so it has these delegates; typing them
 * from a client generated from the fragment alone keeps every query checked against our models.
 */
export type AuthDb = Pick<
  PrismaClient,
  | 'user'
  | 'authSession'
  | 'refreshToken'
  | 'oneTimeToken'
  | 'apiKey'
  | 'totpSecret'
  | 'recoveryCode'
  | '$transaction'
  | '$executeRaw'
>
