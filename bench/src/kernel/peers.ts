// The peers acme is measured against: Fastify alone, and Fastify with the two authentication
// libraries a buyer would otherwise reach for, each as its documentation sets it up.
import { generateKeyPairSync } from 'node:crypto'
import fastifyJwt from '@fastify/jwt'
import Fastify from 'fastify'
import { type BenchServer, BODY, PATH } from './types.js'

export async function bare(): Promise<BenchServer> {
  const app = Fastify({ logger: false })
  app.get(PATH, async () => BODY)
  return { app, path: PATH, headers: {}, expectHeaders: [] }
}

/** `@fastify/jwt` (fast-jwt) verifying an EdDSA access token on every request. */
export async function fastifyJwtBearer(): Promise<BenchServer> {
  const app = Fastify({ logger: false })
  const keys = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
  await app.register(fastifyJwt, {
    secret: { private: keys.privateKey, public: keys.publicKey },
    sign: { algorithm: 'EdDSA', iss: 'https://api.initech.test', expiresIn: '1h' },
    verify: { allowedIss: 'https://api.initech.test' },
  })
  app.get(PATH, { onRequest: (request) => request.jwtVerify() }, async () => BODY)
  await app.ready()
  const token = app.jwt.sign({ sub: '8d3c1c9e-3c1f-4a52-9f0e-2b8f6d1f4a11', sid: 'bench' })
  return { app, path: PATH, headers: { authorization: `Bearer ${token}` }, expectHeaders: [] }
}
