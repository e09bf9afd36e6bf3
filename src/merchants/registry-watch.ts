/**
 * Follows the merchant registry without a restart: the folder of the registry file (and the folders of the key and
 * certificate files it names, so a key file rotated in place is seen) are watched, changes are debounced, and SIGHUP
 * reloads at once. A valid file whose merchants changed goes to onReload; an invalid one to onError (its message
 * names the merchant and the key) and the previous registry stays in use. Watching never holds the process open.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { filesOf } from './registry';
import { loadRegistryAt } from './program-registry';
import type { MerchantRegistry } from './types';

export interface WatchRegistryOptions {
  onReload(registry: MerchantRegistry): void;
  onError(err: Error): void;
  signal?: AbortSignal;
  /** How the registry is read again; default: the file at `file` as loadProgramRegistry reads it. */
  load?: () => MerchantRegistry;
  env?: NodeJS.ProcessEnv;
  /** Editors and secret managers write a file in several steps: wait for quiet. Default 500 ms. */
  debounceMs?: number;
}

export interface RegistryWatch {
  /** Read the registry now, as SIGHUP does. */
  reload(): void;
  close(): void;
}

/** What a reload compares, to stay quiet when an unrelated file of a watched folder changed. */
function signature(registry: MerchantRegistry): string {
  return JSON.stringify([
    registry.source,
    registry.defaultMchid ?? null,
    registry.list().map((e) => [e.mchid, e.fingerprint]),
  ]);
}

function foldersOf(file: string, registry: MerchantRegistry | undefined): Set<string> {
  const files = [file, ...(registry?.list().flatMap((e) => filesOf(e)) ?? [])];
  return new Set(files.map((f) => path.dirname(path.resolve(f))));
}

export function watchRegistry(file: string, opts: WatchRegistryOptions): RegistryWatch {
  const load = opts.load ?? (() => loadRegistryAt(file, opts.env ?? process.env));
  const debounceMs = opts.debounceMs ?? 500;
  const registryFolder = path.dirname(path.resolve(file));
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastSignature: string | undefined;
  let lastError: string | undefined;
  let known: MerchantRegistry | undefined;

  // The registry as it is now: what later changes are compared with, and which folders to watch.
  try {
    known = load();
    lastSignature = signature(known);
  } catch {
    // The program reported it when it started; the first change is compared with nothing.
  }

  function reload(reason: 'change' | 'signal'): void {
    if (closed) return;
    let next: MerchantRegistry;
    try {
      next = load();
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      // A folder event repeats while the file stays broken: say it once; SIGHUP always answers.
      if (reason === 'signal' || err.message !== lastError) opts.onError(err);
      lastError = err.message;
      return;
    }
    lastError = undefined;
    const sig = signature(next);
    known = next;
    updateWatchers();
    if (reason === 'change' && sig === lastSignature) return;
    lastSignature = sig;
    opts.onReload(next);
  }

  function schedule(): void {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      reload('change');
    }, debounceMs);
    timer.unref();
  }

  function updateWatchers(): void {
    const wanted = foldersOf(file, known);
    for (const [folder, watcher] of watchers) {
      if (!wanted.has(folder)) {
        watcher.close();
        watchers.delete(folder);
      }
    }
    for (const folder of wanted) {
      if (watchers.has(folder)) continue;
      try {
        const watcher = watch(folder, { persistent: false }, () => schedule());
        watcher.on('error', () => {
          // The folder went away (a secret volume remounted): watch it again on the next reload.
          watcher.close();
          watchers.delete(folder);
        });
        watchers.set(folder, watcher);
      } catch (e) {
        // A key file's folder that does not exist is that merchant's problem (reported on use); the registry's is ours.
        if (folder === registryFolder) opts.onError(new Error(`cannot watch ${folder}: ${(e as Error).message}`));
      }
    }
  }

  const onSighup = () => reload('signal');
  process.on('SIGHUP', onSighup);
  updateWatchers();

  function close(): void {
    if (closed) return;
    closed = true;
    if (timer) clearTimeout(timer);
    process.off('SIGHUP', onSighup);
    for (const watcher of watchers.values()) watcher.close();
    watchers.clear();
  }

  if (opts.signal?.aborted) close();
  else opts.signal?.addEventListener('abort', close, { once: true });

  return { reload: () => reload('signal'), close };
}
