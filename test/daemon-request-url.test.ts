// The daemon's request-target parsing must read exactly what the WHATWG URL parser reads, or fall back to it.
import test from 'ava';
import fc from 'fast-check';
import { requestUrl } from '../src/daemon/request-url.js';

function sameAsUrl(target: string): boolean {
  let want: URL;
  try {
    want = new URL(target, 'http://daemon');
  } catch {
    // What the URL parser refuses (e.g. "//" names an empty host) must be refused the same way.
    try {
      requestUrl(target);
      return false;
    } catch {
      return true;
    }
  }
  const got = requestUrl(target);
  return got.pathname === want.pathname && got.searchParams.toString() === want.searchParams.toString();
}

test('plain and tricky request targets read the same path and query as the URL parser', (t) => {
  for (const target of [
    '/v1/allocations',
    '/v1/allocations?containerID=ctr-1&minRevision=12',
    '/v1/allocations/000000000a1b-abcdef0123-1-a',
    '/v1/allocations/../releases',
    '/v1/allocations/%2e%2e/releases',
    '//evil/v1/allocations',
    '/a/b.c?x=%20y&x=2',
    '/a#frag',
    '/a?b#c',
    '/',
    '/?',
    '/apis/spiderpool.spidernet.io/v2beta1/spiderippools?watch=true&resourceVersion=5',
  ]) {
    t.true(sameAsUrl(target), target);
  }
});

test('any target over URL-significant characters reads as the URL parser reads it', (t) => {
  const chars = fc.constantFrom('/', '.', '%', '2', 'e', '?', '#', '&', '=', 'a', 'B', '-', '_', '~', ' ', '\\', '+', ':', '@', ',', '"', '<', '\t');
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 24 }), (cs) => sameAsUrl(`/${cs.join('')}`)),
    { numRuns: 20000 },
  );
  t.pass();
});
