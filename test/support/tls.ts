/**
 * A self-signed certificate for TLS tests, made with the `openssl` CLI (Debian
 * package `openssl`) in a temporary directory, once per test process. Valid
 * for `localhost` and `127.0.0.1`; clients trust it by passing it as `ca`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Certificate {
  /** PEM certificate; also the CA a client needs to trust it. */
  cert: string;
  /** PEM private key. */
  key: string;
}

let cached: Certificate | null = null;

/**
 * The test certificate, generated on first use.
 * @throws Error when the openssl CLI is missing or fails (a test that needs
 *   TLS fails rather than skips: install openssl).
 */
export function selfSignedCertificate(): Certificate {
  if (cached) return cached;
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
  } catch {
    throw new Error('the openssl CLI is needed to make a test certificate (apt-get install openssl)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'wschat-tls-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    // An EC key: generated in milliseconds, where RSA takes noticeably longer.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'pipe' },
    );
    cached = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
