import test from 'ava';
import fc from 'fast-check';
import { isIP } from 'node:net';
import { Address6 } from 'ip-address';
import {
  broadcastAddress,
  canonicalText,
  cidrContains,
  formatAddress,
  networkAddress,
  parseAddress,
  parseCidr,
  type Family,
} from '../src/net/address.js';
import { InputError, isInputError } from '../src/net/errors.js';

const u32 = fc.bigInt({ min: 0n, max: (1n << 32n) - 1n });
const u128 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
/** IPv6 values with many zero groups, so compression cases come up often. */
const sparse128 = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((gs) => gs.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n));

/** WHATWG URL host serialization implements RFC 5952 compression; an independent oracle. */
const urlCanonical = (text: string): string => new URL(`http://[${text}]`).hostname.slice(1, -1);

function rejects(t: import('ava').ExecutionContext, fn: () => unknown, field: string, reason?: RegExp): InputError {
  const err = t.throws(fn, { instanceOf: InputError });
  if (err === undefined) throw new Error('unreachable');
  t.true(isInputError(err));
  t.is(err.code, 'InvalidInput');
  t.is(err.field, field);
  t.true(err.message.startsWith(`${field}: `), err.message);
  if (reason) t.regex(err.reason, reason);
  return err;
}

test('given an IPv4 value, when formatted and parsed back, then the value and family survive', (t) => {
  fc.assert(
    fc.property(u32, (v) => {
      const text = formatAddress(4, v);
      t.deepEqual(parseAddress(text, 'f'), { family: 4, value: v });
      t.is(isIP(text), 4);
    }),
  );
});

test('given an IPv6 value, when formatted, then it matches the RFC 5952 form and parses back', (t) => {
  fc.assert(
    fc.property(fc.oneof(u128, sparse128), (v) => {
      const text = formatAddress(6, v);
      t.deepEqual(parseAddress(text, 'f'), { family: 6, value: v });
      const mapped = v >> 32n === 0xffffn;
      if (!mapped) t.is(text, urlCanonical(text));
    }),
    { numRuns: 2000 },
  );
});

test('given IPv6 texts needing compression, when round-tripped, then the canonical form is produced', (t) => {
  const cases: [string, string][] = [
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['2001:0DB8:0000:0000:0000:FF00:0042:8329', '2001:db8::ff00:42:8329'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // tie: first run wins
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // longest run wins
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::1.2.3.4', '::102:304'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'], // IPv4-mapped keeps the mixed notation
    ['0:0:0:0:0:ffff:a00:1', '::ffff:10.0.0.1'],
    ['fe80::0:0:1', 'fe80::1'],
  ];
  for (const [input, canonical] of cases) {
    const { family, value } = parseAddress(input, 'f');
    t.is(family, 6);
    t.is(formatAddress(6, value), canonical, input);
  }
});

test('given an IPv4-mapped IPv6 address, when parsed, then it is IPv6', (t) => {
  t.deepEqual(parseAddress('::ffff:10.0.0.1', 'f'), { family: 6, value: 0xffff_0a00_0001n });
  rejects(t, () => parseAddress('::ffff:10.0.0.1', 'spec.gateway', 4), 'spec.gateway', /is IPv6 but ipVersion is 4/);
});

test('given malformed or non-strict addresses, when parsed, then an InputError names the field', (t) => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['010.0.0.1', /leading zero/],
    ['10.00.0.1', /leading zero/],
    ['10.0.0.1/24', /CIDR suffix/],
    ['fd00::1/64', /CIDR suffix/],
    ['fe80::1%eth0', /zone id/],
    [' 10.0.0.1', /whitespace/],
    ['10.0.0.1 ', /whitespace/],
    ['10.0.0.1\n', /whitespace/],
    ['10.0.0', /not a valid/],
    ['10.0.0.256', /not a valid/],
    ['1.2.3.4.5', /not a valid/],
    ['1..2.3', /not a valid/],
    ['0x0a.0.0.1', /not a valid/],
    ['+1.2.3.4', /not a valid/],
    ['１.2.3.4', /not a valid/],
    ['::ffff:010.0.0.1', /not a valid/],
    ['1::2::3', /not a valid/],
    ['12345::', /not a valid/],
    ['gggg::', /not a valid/],
    ['1:2:3:4:5:6:7:8:9', /not a valid/],
    ['1.2.3.4::', /not a valid/],
    [':::', /not a valid/],
  ];
  for (const [text, reason] of bad) {
    const err = rejects(t, () => parseAddress(text, 'spec.ips[2]'), 'spec.ips[2]', reason);
    t.true(err.message.startsWith('spec.ips[2]: '));
  }
});

test('given an address of the other family, when parsed with ipVersion, then the message says which', (t) => {
  const err = rejects(t, () => parseAddress('10.0.0.1', 'spec.ips[0]', 6), 'spec.ips[0]');
  t.is(err.message, 'spec.ips[0]: 10.0.0.1 is IPv4 but ipVersion is 6');
  t.is(parseAddress('fd00::1', 'f', 6).family, 6);
});

test('given arbitrary strings over the address alphabet, when parsed, then validity agrees with node:net', (t) => {
  const chars = [...'0123456789abcdefABCDEF:.x ', '::', '.0', '255', '256', 'ffff'];
  fc.assert(
    fc.property(
      fc.oneof(
        fc.array(fc.constantFrom(...chars), { maxLength: 24 }).map((a) => a.join('')),
        fc.ipV4(),
        fc.ipV4Extended(),
        fc.ipV6(),
      ),
      (s) => {
        let ok: number = 0;
        try {
          ok = parseAddress(s, 'f').family;
        } catch (e) {
          t.true(isInputError(e));
        }
        t.is(ok, isIP(s), s);
      },
    ),
    { numRuns: 5000 },
  );
});

test('given values out of range, when formatted, then a RangeError is thrown', (t) => {
  t.throws(() => formatAddress(4, 1n << 32n), { instanceOf: RangeError });
  t.throws(() => formatAddress(6, -1n), { instanceOf: RangeError });
});

test('given a CIDR with host bits set, when parsed, then it is normalized and flagged', (t) => {
  const c = parseCidr('10.0.0.5/24', 'spec.subnet');
  t.like(c, { family: 4, prefix: 24, text: '10.0.0.0/24', hostBitsSet: true, size: 256n });
  t.is(formatAddress(4, c.first), '10.0.0.0');
  t.is(formatAddress(4, c.last), '10.0.0.255');
  t.is(networkAddress(c), c.first);
  t.is(broadcastAddress(c), c.last);
  t.false(parseCidr('10.0.0.0/24', 'f').hostBitsSet);
  t.true(cidrContains(c, parseAddress('10.0.0.200', 'f').value));
  t.false(cidrContains(c, parseAddress('10.0.1.0', 'f').value));
});

test('given IPv6 and edge prefixes, when parsed, then first/last/size and broadcast follow', (t) => {
  const v6 = parseCidr('2001:DB8::1/32', 'f', 6);
  t.like(v6, { family: 6, text: '2001:db8::/32', hostBitsSet: true, size: 1n << 96n });
  t.is(formatAddress(6, v6.last), '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff');
  t.is(broadcastAddress(v6), undefined);
  t.like(parseCidr('0.0.0.0/0', 'f'), { size: 1n << 32n, last: 0xffff_ffffn });
  t.like(parseCidr('::/0', 'f'), { size: 1n << 128n });
  t.like(parseCidr('10.0.0.7/32', 'f'), { size: 1n, first: 0x0a00_0007n, hostBitsSet: false });
  t.is(broadcastAddress(parseCidr('10.0.0.6/31', 'f')), undefined); // RFC 3021 point-to-point
  t.is(broadcastAddress(parseCidr('10.0.0.7/32', 'f')), undefined);
});

test('given malformed CIDRs, when parsed, then an InputError names the field', (t) => {
  const bad: [string, RegExp][] = [
    ['10.0.0.0', /"\/prefix" part is missing/],
    ['10.0.0.0/33', /out of range 0-32/],
    ['::/129', /out of range 0-128/],
    ['10.0.0.0/', /not a decimal number/],
    ['10.0.0.0/-1', /not a decimal number/],
    ['10.0.0.0/08', /not a decimal number/],
    ['10.0.0.0/8 ', /not a decimal number/],
    ['10.0.0.0/8/8', /not a decimal number/],
    ['010.0.0.0/8', /leading zero/],
    ['fe80::%eth0/64', /zone id/],
  ];
  for (const [text, reason] of bad) rejects(t, () => parseCidr(text, 'spec.subnet'), 'spec.subnet', reason);
  rejects(t, () => parseCidr('fd00::/64', 'spec.subnet', 4), 'spec.subnet', /fd00:: is IPv6 but ipVersion is 4/);
});

test('given any address and prefix, when a CIDR is built, then it contains the address and re-parses to itself', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.tuple(fc.constant<Family>(4), u32, fc.integer({ min: 0, max: 32 })),
        fc.tuple(fc.constant<Family>(6), u128, fc.integer({ min: 0, max: 128 })),
      ),
      ([family, v, prefix]) => {
        const c = parseCidr(`${formatAddress(family, v)}/${prefix}`, 'f', family);
        t.true(cidrContains(c, v));
        t.is(c.last - c.first + 1n, c.size);
        t.is(c.size, 1n << BigInt((family === 4 ? 32 : 128) - prefix));
        t.is(c.hostBitsSet, c.network !== v);
        const again = parseCidr(c.text, 'f');
        t.is(again.network, c.network);
        t.false(again.hostBitsSet);
      },
    ),
  );
});

test('given IPv6 text in every spelling (full, leading zeros, upper case, any valid "::"), when parsed, then the hand-written path agrees with ip-address and knows the canonical text', (t) => {
  const spell = fc.tuple(sparse128, fc.boolean(), fc.boolean(), fc.nat(8)).map(([v, pad, upper, cut]) => {
    const gs = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).map((g) => (pad ? g.padStart(4, '0') : g));
    // Compress a run of zero groups starting at `cut`, if there is one there (any run, not only the longest).
    let end = cut;
    while (end < 8 && gs[end] !== undefined && Number.parseInt(gs[end]!, 16) === 0) end++;
    const text = end > cut ? `${gs.slice(0, cut).join(':')}::${gs.slice(end).join(':')}` : gs.join(':');
    return { v, text: upper ? text.toUpperCase() : text };
  });
  fc.assert(
    fc.property(spell, ({ v, text }) => {
      t.is(parseAddress(text, 'f', 6).value, v, text);
      t.is(canonicalText(6, text, v), formatAddress(6, v), `the canonical text of ${text}`);
      t.is(canonicalText(6, formatAddress(6, v), parseAddress(formatAddress(6, v), 'f', 6).value), formatAddress(6, v));
      t.is(new Address6(text).bigInt(), v, `ip-address agrees on ${text}`);
    }),
    { numRuns: 2000 },
  );
  // Near misses are refused as before (the fast path hands anything unusual to ip-address).
  for (const bad of ['1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1::', '1:::2', '12345::', '1:2:3:4:5:6:7:8::', '::g', '1:']) {
    t.throws(() => parseAddress(bad, 'f', 6), { instanceOf: InputError }, bad);
  }
});
