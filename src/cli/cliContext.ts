/**
 * What a `tlsrpt` command may touch: the environment it reads configuration from, and the streams it reads
 * and writes. Commands take these from a CliContext instead of `process`, so tests run them in-process
 * (runTlsrpt) with their own environment and captured output, and several runs can share one process.
 */
import { loadConfig, type Config } from '../config/loadConfig.js';

export type Env = Record<string, string | undefined>;

/** The part of a writable stream the commands use. */
export interface OutputStream {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
}

export interface CliIo {
  env: Env;
  stdout: OutputStream;
  stderr: OutputStream;
  stdin: NodeJS.ReadableStream;
}

export class CliContext {
  /** Set by the global --config option: the file loadConfig reads as TLSRPT_CONFIG. */
  configFile: string | undefined;
  /** The exit status the command decided (1 for a finding); a thrown error decides instead (exitCodeFor). */
  exitCode = 0;
  /**
   * A long-running service (serve, receiver, worker, http) sets this: its action returns once it has
   * started, and the process keeps running until a signal stops it (src/services/lifecycle.ts).
   */
  keepsRunning = false;

  constructor(readonly io: CliIo) {}

  /** The environment configuration is read from: the caller's, with TLSRPT_CONFIG from --config. */
  env(): Env {
    return this.configFile === undefined ? this.io.env : { ...this.io.env, TLSRPT_CONFIG: this.configFile };
  }

  loadConfig(): Config {
    return loadConfig(this.env());
  }

  readonly out = (text: string | Uint8Array): void => {
    this.io.stdout.write(text);
  };

  readonly err = (text: string): void => {
    this.io.stderr.write(text);
  };

  /** All of standard input (e.g. `policy validate -`). */
  async readStdin(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    return Buffer.concat(chunks);
  }
}
