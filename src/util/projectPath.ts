import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * Absolute path of a file shipped with the project (schemas/, migrations/).
 * The same code runs from src/ under tsx and from dist/src/ after tsc, so the root is found by walking up
 * to the package.json rather than by a fixed number of "..".
 */
export function projectPath(...parts: string[]): string {
  if (!root) {
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'migrations'))) {
      const up = dirname(dir);
      if (up === dir) throw new Error('cannot find the project root (package.json beside migrations/)');
      dir = up;
    }
    root = dir;
  }
  return join(root, ...parts);
}
