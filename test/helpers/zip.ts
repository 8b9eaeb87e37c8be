import { zipSync } from 'fflate';

/** A zip archive for fixtures (fflate as the writer, so the reader under test is checked against another implementation). */
export function buildZip(files: Array<{ name: string; data: Buffer }>): Buffer {
  return Buffer.from(zipSync(Object.fromEntries(files.map((f) => [f.name, new Uint8Array(f.data)])), { level: 9 }));
}
