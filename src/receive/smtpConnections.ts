/**
 * smtp-server has no event that hands over its connection object (SMTPConnection) as a session starts; the
 * session limits and the reply batching need it. This wraps the server's `connect` (smtp-server 3.x, not
 * documented) once, and calls every handler registered with the new connection and its socket.
 */
import type net from 'node:net';
import type { SMTPServer } from 'smtp-server';

/** The parts of smtp-server's SMTPConnection this project uses (stable across 3.x, but not documented). */
export interface ConnectionInternals {
  id: string;
  _socket?: net.Socket;
  _dataStream?: unknown;
  _closing?: boolean;
  _closed?: boolean;
  _upgrading?: boolean;
  _onCommand?: (command: Buffer, callback?: () => void) => void;
  send(code: number, data?: string | string[], context?: unknown): void;
  close(): void;
}

interface ServerInternals {
  connect?: (socket: net.Socket, options: unknown) => void;
  connections?: Set<ConnectionInternals>;
}

type ConnectionHandler = (connection: ConnectionInternals, socket: net.Socket) => void;

const handlersOf = new WeakMap<SMTPServer, ConnectionHandler[]>();

/** Calls `handler` for each new connection; false (and nothing is called) when smtp-server has no such hook. */
export function onSmtpConnection(server: SMTPServer, handler: ConnectionHandler): boolean {
  const known = handlersOf.get(server);
  if (known) {
    known.push(handler);
    return true;
  }
  const internals = server as unknown as ServerInternals;
  const connect = internals.connect;
  const connections = internals.connections;
  if (typeof connect !== 'function' || !(connections instanceof Set)) return false;
  const handlers = [handler];
  handlersOf.set(server, handlers);
  // `connect` adds the new connection to the server's set: that add names it. (Comparing the set before and
  // after cost a copy of every open connection for each new one.)
  let added: ConnectionInternals | undefined;
  const add = connections.add.bind(connections);
  connections.add = (connection: ConnectionInternals) => {
    added = connection;
    return add(connection);
  };
  internals.connect = function (this: unknown, socket: net.Socket, options: unknown) {
    added = undefined;
    connect.call(this, socket, options);
    const connection = added;
    added = undefined;
    if (!connection) return;
    for (const h of handlers) h(connection, socket);
  };
  return true;
}
