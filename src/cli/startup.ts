/**
 * Startup failures of `wschat serve` in the command line's terms: what
 * failed (which port and door, which path, which file) and how to fix it,
 * naming the option to change. The server says what failed
 * (ChatServerStartError); the words and the advice are the CLI's.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ChatServerStartError } from '../chat/server.js';
import { describeFileError } from './options.js';

/** What the user asked for, to name it back. */
export interface ServeFlags {
  /** --host as given (undefined: every interface). */
  host: string | undefined;
  /** --data as given. */
  dataDir: string;
}

const DOORS = {
  http: { name: 'web and WebSocket', option: '--port' },
  tcp: { name: 'raw TCP lines', option: '--tcp-port' },
} as const;

/** One sentence (or two) for a failed start, naming the option to change. */
export function explainStartError(error: ChatServerStartError, flags: ServeFlags): string {
  const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
  if (error.part === 'store') return explainStore(error.code, cause, error.path ?? flags.dataDir, flags.dataDir);
  const door = DOORS[error.part];
  const port = `port ${error.port} (${door.name}, ${door.option})`;
  const on = flags.host === undefined ? '' : ` on ${flags.host}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `${port} is already in use${on}: stop the program using it, or choose another port with ${door.option}`;
    case 'EACCES':
    case 'EPERM':
      return `not allowed to listen on ${port}${on}: ports below 1024 need privileges; choose a port from 1024 up with ${door.option}`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${flags.host} (--host): this machine has no such address; give one of its addresses, or leave --host out to listen on all of them`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `--host ${flags.host} is not a known host name or address`;
    default:
      return `cannot listen on ${port}${on}: ${cause}`;
  }
}

function explainStore(code: string, cause: string, file: string, dir: string): string {
  const data = `--data ${dir}`;
  // better-sqlite3 installed without running its install script (npm skips
  // the scripts it was not told to allow: README, "Install scripts"), so its
  // native addon was never built; the `bindings` package then lists every
  // path it tried, which tells a user nothing.
  if (cause.startsWith('Could not locate the bindings file')) {
    return 'SQLite is unavailable: the native part of better-sqlite3 was never built, because npm did not run its install script. Allow it and build it: npm install-scripts approve better-sqlite3 && npm rebuild better-sqlite3 (in your project), or install again with --allow-scripts=better-sqlite3 (npx, npm install -g); or run without SQLite: --memory, or --redis URL';
  }
  switch (code) {
    case 'DATA_DIR_LOCKED':
      // The store's own message names the directory, the holder and the option.
      return cause;
    case 'EEXIST':
      return `${data} is a file, not a directory: give a directory (it is created if needed), or --memory to keep nothing on disk`;
    case 'ENOTDIR':
      return `${data}: a part of that path is a file, not a directory: give a directory (it is created if needed), or --memory to keep nothing on disk`;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `cannot create the data directory ${dir} (--data): ${describeFileError({ code })}: give the user running wschat write access to it, or choose another --data`;
    case 'SQLITE_CANTOPEN':
      return `cannot open the database ${file} (${data}): SQLite says "${cause}": it must be a file wschat can read and write, in a directory it can write; or choose another --data`;
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return `${file} (${data}) is not a wschat database, or it is damaged (SQLite says "${cause}"): move it away, or choose another --data`;
    default:
      if (code.startsWith('SQLITE_READONLY')) {
        return `the database ${file} (${data}) is read-only (SQLite says "${cause}"): give the user running wschat write access to the file and its directory, or choose another --data`;
      }
      if (code === 'SQLITE_FULL' || code === 'ENOSPC') return `the disk holding ${file} (${data}) is full: free some space, or choose another --data`;
      return `cannot open the database ${file} (${data}): ${cause}`;
  }
}

/**
 * Reads and checks --tls-cert and --tls-key before the server starts, so that
 * a bad file is named (OpenSSL's own error names neither).
 * @throws Error naming the option and the file: unreadable, not PEM, an
 *   encrypted key, a key that does not belong to the certificate.
 */
export function loadTlsFiles(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const read = (option: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`cannot read ${option} ${file}: ${describeFileError(error)}`);
    }
  };
  const cert = read('--tls-cert', certFile);
  const key = read('--tls-key', keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new Error(
      `--tls-cert ${certFile} is not a PEM certificate (${(error as Error).message}): give the certificate file, which starts with -----BEGIN CERTIFICATE-----`,
    );
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional key with "Proc-Type: 4,ENCRYPTED".
    if (code === 'ERR_MISSING_PASSPHRASE' || /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key.toString('latin1'))) {
      throw new Error(`--tls-key ${keyFile} is encrypted: wschat needs the key without a passphrase (openssl pkey -in KEY -out PLAIN-KEY)`);
    }
    throw new Error(
      `--tls-key ${keyFile} is not a PEM private key (${(error as Error).message}): give the key file, which starts with -----BEGIN PRIVATE KEY----- (or EC/RSA PRIVATE KEY)`,
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new Error(`--tls-key ${keyFile} does not belong to the certificate --tls-cert ${certFile}: give the key the certificate was made for`);
  }
  return { cert, key };
}
