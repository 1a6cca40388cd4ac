/**
 * TLS material from configuration, read and checked at start so a bad file stops the instance with
 * GW_CONFIG_INVALID naming its variable:
 *
 * - TLS_CERT_FILE / TLS_KEY_FILE: the listener's certificate chain and private key (PEM); HTTP
 *   and WebSocket then run as HTTPS and WSS on the same port;
 * - PEER_TLS_CA_FILE: the CA certificates (PEM bundle) that peers' certificates are checked against
 *   when their advertised URLs are https (src/peer/client.ts).
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { GatewayError } from '../errors.ts';

export interface ListenerTls {
  readonly cert: string;
  readonly key: string;
}

function configError(variable: string, expected: string, file: string, error: unknown): GatewayError {
  return new GatewayError(
    'GW_CONFIG_INVALID',
    `${variable} must be ${expected}; ${file}: ${error instanceof Error ? error.message : String(error)}`,
    {
      details: { variable },
      cause: error,
    },
  );
}

function read(variable: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw configError(variable, 'a readable file', file, error);
  }
}

/** Reads the listener's certificate and key, and checks that they load and belong together. */
export function readListenerTls(certFile: string, keyFile: string): ListenerTls {
  const cert = read('TLS_CERT_FILE', certFile);
  const key = read('TLS_KEY_FILE', keyFile);
  try {
    new X509Certificate(cert);
  } catch (error) {
    throw configError('TLS_CERT_FILE', 'a PEM certificate (chain)', certFile, error);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw configError('TLS_KEY_FILE', 'the PEM private key of the certificate in TLS_CERT_FILE', keyFile, error);
  }
  return { cert, key };
}

/** Reads PEER_TLS_CA_FILE: one or more PEM CA certificates. */
export function readPeerCa(file: string): string {
  const ca = read('PEER_TLS_CA_FILE', file);
  try {
    new X509Certificate(ca);
    createSecureContext({ ca });
  } catch (error) {
    throw configError('PEER_TLS_CA_FILE', 'a PEM bundle of CA certificates', file, error);
  }
  return ca;
}
