import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * One server per data directory. Two servers writing the same rooms would
 * each number entries the other never hears of live, and each would take the
 * other's members for leftovers of a crash.
 *
 * The lock is an exclusive SQLite lock on `wschat.lock` (a POSIX advisory
 * lock underneath): the operating system drops it when the process dies, even
 * by `kill -9`, so there is never a stale lock to clean up by hand. Who holds
 * it is written next to it in `wschat.lock.owner`, for the refusal message.
 */
export class DataDirLockedError extends Error {
  readonly code = 'DATA_DIR_LOCKED';
  constructor(
    readonly directory: string,
    readonly owner: string,
  ) {
    super(
      `the data directory ${directory} is in use by another wschat server (${owner}); stop it, or give this one another --data directory`,
    );
    this.name = 'DataDirLockedError';
  }
}

export class DataDirLock {
  readonly #db: Database.Database;
  readonly #ownerPath: string;
  #released = false;

  private constructor(db: Database.Database, ownerPath: string) {
    this.#db = db;
    this.#ownerPath = ownerPath;
  }

  /**
   * Takes the lock of `directory` (which must exist).
   * @throws DataDirLockedError when another process (or another store in this one) holds it.
   */
  static acquire(directory: string): DataDirLock {
    const ownerPath = join(directory, 'wschat.lock.owner');
    const db = new Database(join(directory, 'wschat.lock'));
    try {
      db.pragma('busy_timeout = 0');
      // In EXCLUSIVE locking mode the lock a write takes is kept until the
      // connection closes (https://sqlite.org/pragma.html#pragma_locking_mode).
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('CREATE TABLE IF NOT EXISTS lock (taken_at INTEGER)');
      db.exec('BEGIN EXCLUSIVE');
      db.prepare('DELETE FROM lock').run();
      db.prepare('INSERT INTO lock (taken_at) VALUES (?)').run(Date.now());
      db.exec('COMMIT');
    } catch (error) {
      db.close();
      if (isBusy(error)) throw new DataDirLockedError(directory, readOwner(ownerPath));
      throw error;
    }
    const owner = `process ${process.pid} on ${hostname()}, started ${new Date().toISOString()}`;
    try {
      writeFileSync(ownerPath, `${owner}\n`);
    } catch {
      // The owner file only improves a message; the lock is what matters.
    }
    return new DataDirLock(db, ownerPath);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    rmSync(this.#ownerPath, { force: true });
    this.#db.close();
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

function readOwner(path: string): string {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text === '' ? 'owner unknown' : text;
  } catch {
    return 'owner unknown';
  }
}
