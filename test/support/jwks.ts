/**
 * Signing keys and a local JSON Web Key Set endpoint for client authentication tests: key pairs
 * from jose's `generateKeyPair`, tokens from `SignJWT`, and a node:http server on 127.0.0.1 port 0
 * serving the public halves of the keys currently published (`publish` rotates them). It counts
 * its fetches and can be told to fail (`failWith`), or be stopped, to test an unreachable key set.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface SigningKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** The public key as a JWK with kid, alg and use. */
  readonly jwk: JWK;
  /** The public key as PEM (SPKI). */
  readonly pem: string;
}

export async function signingKey(alg: 'RS256' | 'ES256', kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk, pem: await exportSPKI(publicKey) };
}

/** A token signed with `key`, its kid in the header. */
export function signWith(key: SigningKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

export interface JwksServer {
  readonly url: string;
  /** Fetches answered so far. */
  readonly fetches: number;
  /** Serves these keys from now on (a rotation). */
  publish(keys: readonly SigningKey[]): void;
  /** Answers every fetch with this status from now on (undefined: serve the keys again). */
  failWith(status: number | undefined): void;
  stop(): Promise<void>;
}

export async function startJwksServer(keys: readonly SigningKey[]): Promise<JwksServer> {
  let published = [...keys];
  let failure: number | undefined;
  let fetches = 0;
  const server: Server = createServer((_request, response) => {
    fetches += 1;
    if (failure !== undefined) {
      response.writeHead(failure, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: published.map((key) => key.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    publish(next) {
      published = [...next];
    },
    failWith(status) {
      failure = status;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
