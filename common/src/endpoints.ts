import { fail, ok, type Parsed } from './result.ts';

const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$/;
const ETCD_DEFAULT_PORT = 2379;

function port(raw: string, item: string): Parsed<number> {
  if (!/^\d+$/.test(raw)) return fail(`"${item}" has no valid port`);
  const n = Number(raw);
  return n >= 1 && n <= 65535 ? ok(n) : fail(`"${item}" has port ${n}, outside 1-65535`);
}

/** A `host:port`, the GoMaint form of brokers and etcd endpoints (IPv6 hosts in brackets). */
export function parseHostPort(raw: string): Parsed<string> {
  const at = raw.lastIndexOf(':');
  const host = at > 0 ? raw.slice(0, at) : '';
  if (!HOST.test(host)) return fail(`"${raw}" is not host:port`);
  const p = port(raw.slice(at + 1), raw);
  return p.ok ? ok(`${host}:${p.value}`) : p;
}

/**
 * An etcd endpoint in the GoMaint form (host:port) or as a URL. The result is always a URL with a port,
 * which is what the etcd client wants; the scheme of a bare host:port follows whether TLS is configured.
 */
export function parseEtcdEndpoint(raw: string, tls: boolean): Parsed<string> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return fail(`"${raw}" is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return fail(`"${raw}" must use http:// or https://`);
    }
    if (url.pathname !== '/' || url.search !== '' || url.username !== '') {
      return fail(`"${raw}" must be a bare scheme://host:port, without path, query or credentials`);
    }
    return ok(`${url.protocol}//${url.hostname}:${url.port === '' ? ETCD_DEFAULT_PORT : url.port}`);
  }
  const parsed = parseHostPort(raw);
  if (!parsed.ok) return fail(`"${raw}" is neither host:port nor an http(s):// URL`);
  return ok(`${tls ? 'https' : 'http'}://${parsed.value}`);
}
