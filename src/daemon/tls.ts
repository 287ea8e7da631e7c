// The TCP API's TLS: a serving certificate and key from files (--tls-cert/--tls-key), or a self-signed CA and a
// serving certificate for 127.0.0.1, ::1, localhost and the host name, made once into <data-dir>/tls (mode 0600)
// and reused; the serving certificate is re-issued from the same CA when it nears expiry or lacks a name.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { TlsOptions } from 'node:tls';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';

export interface ServingTls {
  readonly cert: string;
  readonly key: string;
  /** The CA clients verify the serving certificate with (PEM): the generated CA, --tls-ca, or the cert itself. */
  readonly ca: string;
  /** Where the certificate came from, for the start-up log. */
  readonly source: string;
}

export interface TlsFileOptions {
  readonly certFile?: string;
  readonly keyFile?: string;
  /** The CA that signed --tls-cert, for `ipam kubeconfig` (default: the certificate itself). */
  readonly caFile?: string;
  /** Where the generated CA and serving certificate live (<data-dir>/tls). */
  readonly dir: string;
  /** Names the generated serving certificate covers besides 127.0.0.1, ::1, localhost and the host name. */
  readonly extraNames?: readonly string[];
}

/** The file names inside the TLS directory. */
export const TLS_FILES = { caCert: 'ca.crt', caKey: 'ca.key', cert: 'serving.crt', key: 'serving.key' } as const;

const CA_DAYS = 3650;
const SERVING_DAYS = 365;
/** A serving certificate with less than this left is re-issued at start. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

export class TlsConfigError extends Error {}

function readPrivate(path: string): string {
  if ((statSync(path).mode & 0o077) !== 0) throw new TlsConfigError(`${path}: the key is readable by others; chmod 600 it`);
  return readFileSync(path, 'utf8');
}

export function loadServingTls(o: TlsFileOptions): ServingTls {
  if (o.certFile !== undefined || o.keyFile !== undefined) {
    if (!o.certFile || !o.keyFile) throw new TlsConfigError('--tls-cert and --tls-key go together: give both files, or neither to use the generated CA');
    const cert = readFileSync(o.certFile, 'utf8');
    const key = readPrivate(o.keyFile);
    checkPair(cert, key, o.certFile);
    const ca = o.caFile ? readFileSync(o.caFile, 'utf8') : cert;
    return { cert, key, ca, source: o.certFile };
  }
  return generated(o.dir, servingNames(o.extraNames ?? []));
}

/** The names a generated serving certificate covers. */
export function servingNames(extra: readonly string[]): string[] {
  return [...new Set(['127.0.0.1', '::1', 'localhost', hostname(), ...extra].filter((n) => n !== ''))];
}

function checkPair(cert: string, key: string, where: string): void {
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch (e) {
    throw new TlsConfigError(`${where}: not a PEM certificate (${(e as Error).message})`);
  }
  try {
    if (!x.checkPrivateKey(createPrivateKey(key))) throw new TlsConfigError(`${where}: the key does not belong to this certificate`);
  } catch (e) {
    if (e instanceof TlsConfigError) throw e;
    throw new TlsConfigError(`${where}: the key is not a PEM private key (${(e as Error).message})`);
  }
}

function write(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

function generated(dir: string, names: readonly string[]): ServingTls {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n: string) => join(dir, n);
  if (!existsSync(f(TLS_FILES.caCert)) || !existsSync(f(TLS_FILES.caKey))) {
    const ca = issue({ cn: `ipam-es-ca-${Math.floor(Date.now() / 1000)}`, days: CA_DAYS, isCa: true });
    write(f(TLS_FILES.caKey), ca.key);
    write(f(TLS_FILES.caCert), ca.cert);
  }
  const caCert = readFileSync(f(TLS_FILES.caCert), 'utf8');
  const caKey = readPrivate(f(TLS_FILES.caKey));
  let reason = '';
  if (!existsSync(f(TLS_FILES.cert)) || !existsSync(f(TLS_FILES.key))) reason = 'made';
  else {
    const x = new X509Certificate(readFileSync(f(TLS_FILES.cert), 'utf8'));
    if (Date.parse(x.validTo) - Date.now() < RENEW_BEFORE_MS) reason = 'renewed (near expiry)';
    else if (!x.verify(new X509Certificate(caCert).publicKey)) reason = 're-issued (signed by another CA)';
    else if (!names.every((n) => covers(x, n))) reason = 're-issued (names changed)';
    else if (x.publicKey.asymmetricKeyType === 'rsa') reason = 're-issued (ECDSA P-256: cheaper handshakes than its RSA key)';
  }
  if (reason !== '') {
    const s = issue({ cn: names.find((n) => isIP(n) === 0 && n !== 'localhost') ?? 'localhost', days: SERVING_DAYS, isCa: false, names, issuer: { cert: caCert, key: caKey } });
    write(f(TLS_FILES.key), s.key);
    write(f(TLS_FILES.cert), s.cert);
  }
  return { cert: readFileSync(f(TLS_FILES.cert), 'utf8'), key: readPrivate(f(TLS_FILES.key)), ca: caCert, source: `${dir} (${reason || 'reused'})` };
}

function covers(x: X509Certificate, name: string): boolean {
  return isIP(name) !== 0 ? x.checkIP(name) !== undefined : x.checkHost(name) !== undefined;
}

interface Issued {
  readonly cert: string;
  readonly key: string;
}

/**
 * One certificate, keys from node:crypto (native), signed by node-forge with SHA-256 and the CA's RSA 2048 key. The
 * CA is RSA (forge signs only with RSA); a serving certificate holds an ECDSA P-256 key, because every TLS handshake
 * signs with it: ~0.2 ms of the daemon's one thread, against ~3.6 ms for RSA 2048 (a flood of new connections is
 * mostly that signature). forge cannot encode an EC key, so its subjectPublicKeyInfo is put into the TBS by hand.
 */
function issue(o: { cn: string; days: number; isCa: boolean; names?: readonly string[]; issuer?: { cert: string; key: string } }): Issued {
  const ec = !o.isCa;
  const { privateKey, publicKey } = ec
    ? generateKeyPairSync('ec', { namedCurve: 'prime256v1', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
    : generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const c = forge.pki.createCertificate();
  // For an EC key, a stand-in RSA key that the real subjectPublicKeyInfo replaces before signing.
  c.publicKey = ec ? forge.pki.setRsaPublicKey(new forge.jsbn.BigInteger('3'), new forge.jsbn.BigInteger('3')) : forge.pki.publicKeyFromPem(publicKey);
  // A positive 16-byte serial (the top bit cleared: DER integers are signed).
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  c.serialNumber = serial.toString('hex');
  const now = Date.now();
  c.validity.notBefore = new Date(now - 5 * 60_000); // a little clock skew between hosts
  c.validity.notAfter = new Date(now + o.days * 86_400_000);
  // UTF8String: forge's default PrintableString refuses characters such as '@' or '_' (Go's parser then fails).
  const utf8 = forge.asn1.Type.UTF8 as number;
  const subject = [{ name: 'commonName', value: o.cn, valueTagClass: utf8 }, { name: 'organizationName', value: 'ipam-es', valueTagClass: utf8 }];
  c.setSubject(subject);
  const issuerCert = o.issuer ? forge.pki.certificateFromPem(o.issuer.cert) : undefined;
  c.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  const exts: object[] = o.isCa
    ? [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
        { name: 'subjectKeyIdentifier' },
      ]
    : [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true }, // keyEncipherment is RSA key transport: not for EC
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: (o.names ?? []).map((n) => (isIP(n) !== 0 ? { type: 7, ip: n } : { type: 2, value: n })) },
        { name: 'subjectKeyIdentifier' },
        ...(issuerCert ? [{ name: 'authorityKeyIdentifier', keyIdentifier: issuerCert.generateSubjectKeyIdentifier().getBytes() }] : []),
      ];
  c.setExtensions(exts);
  const signer = forge.pki.privateKeyFromPem(o.issuer?.key ?? privateKey);
  if (!ec) {
    c.sign(signer, forge.md.sha256.create());
    return { cert: forge.pki.certificateToPem(c), key: privateKey };
  }
  // What forge's cert.sign does, with the EC key's subjectPublicKeyInfo (TBS field 6) and its key identifier.
  const spki = createPublicKey(publicKey).export({ type: 'spki', format: 'der' });
  const ski = c.extensions.find((e: { name?: string }) => e.name === 'subjectKeyIdentifier') as { value: unknown; subjectKeyIdentifier: string };
  const id = createHash('sha1').update(spki.subarray(spki.length - 65)).digest(); // RFC 5280 4.2.1.2 (1): the uncompressed point
  ski.value = forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.OCTETSTRING, false, id.toString('binary'));
  ski.subjectKeyIdentifier = id.toString('hex');
  c.signatureOid = c.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(c); // public in forge, not in its types
  (tbs.value as forge.asn1.Asn1[])[6] = forge.asn1.fromDer(spki.toString('binary'));
  c.tbsCertificate = tbs;
  const md = forge.md.sha256.create();
  md.update(forge.asn1.toDer(tbs).getBytes());
  c.signature = signer.sign(md);
  return { cert: forge.pki.certificateToPem(c), key: privateKey };
}

/** Front-proxy (request-header) authentication, as Kubernetes' aggregation layer uses it. */
export interface RequestHeaderOptions {
  /** CA (PEM) whose client certificates may assert a user through headers (--requestheader-client-ca-file). */
  readonly clientCa: string;
  /** Common names allowed to do so; empty: any certificate the CA signed (--requestheader-allowed-names). */
  readonly allowedNames: readonly string[];
  readonly usernameHeaders: readonly string[];
  readonly groupHeaders: readonly string[];
  readonly extraHeaderPrefixes: readonly string[];
}

export const DEFAULT_REQUEST_HEADERS = {
  usernameHeaders: ['X-Remote-User'],
  groupHeaders: ['X-Remote-Group'],
  extraHeaderPrefixes: ['X-Remote-Extra-'],
} as const;

/** The HTTPS server for the TCP API; with request-header auth it asks for (never requires) a client certificate. */
/** The TLS options of the HTTPS listener (src/daemon/listener.ts builds the server, with its connection limits). */
export function tlsServerOptions(tls: ServingTls, requestHeader: RequestHeaderOptions | undefined): TlsOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.2',
    // Clients without a certificate (kubectl with a token) are still served: authentication decides, per request.
    ...(requestHeader ? { requestCert: true, rejectUnauthorized: false, ca: requestHeader.clientCa } : {}),
  };
}
