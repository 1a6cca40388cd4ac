/**
 * A throw-away certificate authority for TLS tests, made with the `openssl` command: a CA
 * certificate, and a server certificate it signs for 127.0.0.1 and localhost (P-256 keys, valid
 * for two days). Returns the file paths and their PEM texts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestCertificates {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes `<label>-ca.crt`, `<label>.crt` and `<label>.key` in `dir`. */
export function makeCertificates(dir: string, label = 'gateway'): TestCertificates {
  const config = path.join(dir, `${label}-openssl.cnf`);
  writeFileSync(
    config,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      `CN = ${label} test`,
      '[ca]',
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier = hash',
      '[server]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = serverAuth,clientAuth',
      'subjectAltName = IP:127.0.0.1,DNS:localhost',
      '',
    ].join('\n'),
  );
  const caKey = `${label}-ca.key`;
  const caFile = `${label}-ca.crt`;
  const keyFile = `${label}.key`;
  const certFile = `${label}.crt`;
  const csr = `${label}.csr`;
  const curve = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  openssl(dir, ['genpkey', ...curve, '-out', caKey]);
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-out',
    caFile,
    '-days',
    '2',
    '-config',
    config,
    '-extensions',
    'ca',
    '-subj',
    `/CN=${label} test CA`,
  ]);
  openssl(dir, ['genpkey', ...curve, '-out', keyFile]);
  openssl(dir, ['req', '-new', '-key', keyFile, '-out', csr, '-config', config, '-subj', '/CN=127.0.0.1']);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caFile,
    '-CAkey',
    caKey,
    '-set_serial',
    '1',
    '-out',
    certFile,
    '-days',
    '2',
    '-extfile',
    config,
    '-extensions',
    'server',
  ]);
  const full = (file: string) => path.join(dir, file);
  return {
    caFile: full(caFile),
    certFile: full(certFile),
    keyFile: full(keyFile),
    ca: readFileSync(full(caFile), 'utf8'),
    cert: readFileSync(full(certFile), 'utf8'),
    key: readFileSync(full(keyFile), 'utf8'),
  };
}
