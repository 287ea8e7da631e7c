// Upstream sample manifests as their files hold them: YAML files, and Markdown whose code blocks hold YAML (plain,
// or in a shell here-document such as `cat <<EOF | kubectl apply -f -`). Nothing is edited; documents that still
// hold shell variables (`$NAME`, `${NAME}`) are marked, since no shell expanded them.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

export interface Sample {
  /** "path#n": the file and the document's position among the file's samples. */
  readonly where: string;
  readonly kind: string;
  readonly name: string;
  /** The document's text, exactly as in the file (indentation of the enclosing Markdown list removed). */
  readonly text: string;
  /** Has unexpanded shell variables. */
  readonly templated: boolean;
}

/** YAML texts in a Markdown file's fenced code blocks (here-document bodies, or the whole block). */
export function yamlBlocks(markdown: string): string[] {
  const lines = markdown.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(```|~~~)/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*(```|~~~)\s*$/.test(lines[i]!); i++) body.push(lines[i]!.slice(Math.min(indent, lines[i]!.length - lines[i]!.trimStart().length)));
    let inDoc: string | undefined;
    let doc: string[] = [];
    let sawHeredoc = false;
    for (const l of body) {
      if (inDoc === undefined) {
        const h = /<<-?\s*['"]?([A-Za-z_]+)['"]?/.exec(l);
        if (h) {
          inDoc = h[1]!;
          doc = [];
          sawHeredoc = true;
        }
      } else if (l.trim() === inDoc) {
        out.push(doc.join('\n'));
        inDoc = undefined;
      } else doc.push(l);
    }
    if (!sawHeredoc && /^\s*(apiVersion|kind):/m.test(body.join('\n'))) out.push(body.join('\n'));
  }
  return out;
}

/** The documents of the given kinds in a YAML or Markdown file, in file order. */
export function samplesOf(path: string, root: string, kinds: ReadonlySet<string>): Sample[] {
  const text = readFileSync(`${root}/${path}`, 'utf8');
  const texts = path.endsWith('.md') ? yamlBlocks(text) : [text];
  const out: Sample[] = [];
  for (const t of texts) {
    for (const d of parseAllDocuments(t)) {
      if (d.errors.length > 0) continue; // shell or prose in a code block, not a manifest
      const v = d.toJS() as { kind?: unknown; metadata?: { name?: unknown } } | null;
      if (!v || typeof v.kind !== 'string' || !kinds.has(v.kind)) continue;
      const src = t.slice(d.range[0], d.range[1]);
      out.push({ where: `${path}#${out.length + 1}`, kind: v.kind, name: String(v.metadata?.name ?? ''), text: src, templated: /\$\{?[A-Za-z_]/.test(src) });
    }
  }
  return out;
}

/**
 * Samples Spiderpool's webhook refuses too, with the field it names and why (each checked against
 * pkg/ippoolmanager/ippool_validate.go at the fixtures' commit).
 */
const unformatted = { field: 'spec.subnet', why: /unformatted subnet .*, please change it to / }; // IsFormatCIDR
const notInteger = { field: 'spec.ipVersion', why: /Unsupported value: "ipv4"/ }; // the CRD: integer, enum [4, 6]
export const UPSTREAM_REFUSED: Readonly<Record<string, { field: string; why: RegExp }>> = {
  'docs/example/multi-interfaces-annotation/different-segment-ipv4-ippools.yaml#1': unformatted, // 10.6.0.1/16
  'docs/example/multi-interfaces-annotation/different-segment-ipv4-ippools.yaml#2': unformatted,
  'docs/example/multi-interfaces-annotation/different-segment-ipv4-subnets.yaml#1': unformatted,
  'docs/example/multi-interfaces-annotation/different-segment-ipv4-subnets.yaml#2': unformatted,
  'docs/example/spider-subnet/multiple-interfaces.yaml#2': unformatted, // 2002::ac0f:0/64
  'docs/usage/install/ai/get-started-macvlan.md#1': unformatted, // 172.16.11.0/16
  'docs/usage/install/ai/get-started-macvlan.md#2': unformatted,
  'docs/usage/install/ai/get-started-sriov-infiniband.md#1': unformatted,
  'docs/usage/install/ai/get-started-sriov-roce.md#1': unformatted,
  'docs/usage/install/ai/get-started-sriov-roce.md#10': unformatted,
  ...Object.fromEntries([2, 3, 4, 5, 6, 7, 8, 9].map((i) => [`docs/usage/install/ai/get-started-sriov-roce.md#${i}`, notInteger])),
  // multusName: a string where the CRD says array (the API server's schema check refuses it at the same field).
  'docs/usage/install/underlay/get-started-sriov.md#1': { field: 'spec.multusName', why: /must be a list of strings/ },
  // The page shows alternatives; applied in order, the second shares 10.6.168.151-160 with the first (ippool_validate.go
  // validateIPPoolAvailableIPs).
  'docs/usage/spider-affinity.md#7': { field: 'spec.ips', why: /Forbidden: overlap with IPPool test-pod-ippool in IP ranges \[10\.6\.168\.151-10\.6\.168\.160\]/ },
  // A fragment ("spec: {default: true}" then "..."): the CRD requires spec.subnet.
  'docs/usage/spider-ippool.md#1': { field: 'spec.subnet', why: /Required value/ },
  // gateway 172.110.0.1 outside subnet 172.110.1.0/24 (validateIPPoolGateway -> ValidateContainsIP).
  'docs/usage/submariner.md#1': { field: 'spec.gateway', why: /not pertains to the 'spec.subnet' 172\.110\.1\.0\/24 of IPPool/ },
  'docs/usage/submariner.md#2': { field: 'spec.gateway', why: /not pertains to the 'spec.subnet' 172\.111\.1\.0\/24 of IPPool/ },
};
