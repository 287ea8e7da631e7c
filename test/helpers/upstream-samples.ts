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
