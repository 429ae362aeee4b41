import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The repository root: the nearest directory at or above `from` whose package.json declares
 * workspaces. Found by walking up rather than from `import.meta` so that the same code runs
 * natively (Node 24) and compiled to CommonJS under Jest.
 */
export function findRepoRoot(from: string = process.cwd()): string {
  let dir = path.resolve(from);
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { workspaces?: unknown };
        if (parsed.workspaces !== undefined) return dir;
      } catch {
        // A broken package.json on the way up is not ours; keep walking.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`No repository root (a package.json with "workspaces") at or above ${from}`);
    }
    dir = parent;
  }
}

/** A path inside the git-ignored `.local/` folder, where downloads and local data live. */
export function localPath(rootDir: string, ...segments: string[]): string {
  return path.join(rootDir, '.local', ...segments);
}
