// Helpers for the end-to-end test: the Go app as a child process, a fake
// Sentry that records envelopes, and Sentry envelope parsing.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** freePort asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * run runs a command to completion, rejecting with its output when it fails.
 * @param {string} cmd
 * @param {string[]} args
 * @param {import('node:child_process').SpawnOptions} [opts]
 * @returns {Promise<void>}
 */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

/**
 * @typedef {Record<string, unknown>} LogLine one JSON log line of the app
 */

/**
 * startApp starts the Go app binary and collects its stdout as JSON lines.
 * @param {string} binary
 * @param {Record<string, string>} env
 * @param {string} cwd
 */
export function startApp(binary, env, cwd) {
  const child = spawn(binary, [], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  /** @type {LogLine[]} */
  const lines = [];
  let raw = '';
  let pending = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (/** @type {string} */ chunk) => {
    raw += chunk;
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.trim()) continue;
      try {
        lines.push(JSON.parse(line));
      } catch {
        lines.push({ unparsed: line });
      }
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (/** @type {string} */ chunk) => (raw += chunk));
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    output: () => raw,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * waitFor polls fn until it returns a truthy value, or throws after timeoutMs.
 * @template T
 * @param {() => T | Promise<T>} fn
 * @param {{ timeoutMs?: number, intervalMs?: number, what?: string | (() => string) }} [opts]
 * @returns {Promise<NonNullable<T>>}
 */
export async function waitFor(fn, { timeoutMs = 15_000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const v = await fn();
      if (v) return /** @type {NonNullable<T>} */ (v);
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const desc = typeof what === 'function' ? what() : what;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${desc}${lastError ? `: ${lastError}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * @typedef {{ headers: Record<string, any>, items: { header: Record<string, any>, payload: Buffer, json: any }[] }} Envelope
 */

/**
 * parseEnvelope parses a Sentry envelope: a JSON header line, then items, each
 * a JSON header line and a payload of `length` bytes (or up to the newline).
 * @param {Buffer} buf
 * @returns {Envelope}
 */
export function parseEnvelope(buf) {
  let pos = 0;
  const readLine = () => {
    const nl = buf.indexOf(0x0a, pos);
    const end = nl === -1 ? buf.length : nl;
    const line = buf.subarray(pos, end);
    pos = end + 1;
    return line;
  };
  const headers = JSON.parse(readLine().toString('utf8'));
  const items = [];
  while (pos < buf.length) {
    const headerLine = readLine().toString('utf8');
    if (!headerLine.trim()) continue;
    const header = JSON.parse(headerLine);
    let payload;
    if (typeof header.length === 'number') {
      payload = buf.subarray(pos, pos + header.length);
      pos += header.length;
      if (buf[pos] === 0x0a) pos++;
    } else {
      payload = readLine();
    }
    let json = null;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      // Binary payloads (replay recordings) stay as bytes.
    }
    items.push({ header, payload, json });
  }
  return { headers, items };
}

/**
 * startFakeSentry starts an HTTP server that accepts envelopes at
 * /api/<project>/envelope/ the way sentry.io does, and records them.
 * @param {string} project
 */
export async function startFakeSentry(project) {
  /** @type {(Envelope & { path: string })[]} */
  const envelopes = [];
  /** @type {string[]} */
  const rejected = [];
  const server = createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith(`/api/${project}/envelope/`)) {
        rejected.push(`${req.method} ${req.url}`);
        res.writeHead(404).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      try {
        envelopes.push({ path: req.url, ...parseEnvelope(body) });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      } catch (err) {
        rejected.push(`unparsable envelope: ${err}`);
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    envelopes,
    rejected,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

/**
 * errorEvents returns the error events of envelopes, each with its envelope.
 * @template {Envelope} E
 * @param {E[]} envelopes
 * @returns {{ env: E, event: any }[]}
 */
export function errorEvents(envelopes) {
  return envelopes.flatMap((env) => env.items.filter((it) => it.header.type === 'event' && it.json).map((it) => ({ env, event: it.json })));
}
