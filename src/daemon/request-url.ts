// What routes read of a request target: its path and its query. Plain paths (the API's own, e.g. /v1/allocations)
// skip the WHATWG URL parser; anything it might normalise (dots, escapes, "//", spaces, fragments) goes through it.
export interface RequestUrl {
  readonly pathname: string;
  readonly searchParams: URLSearchParams;
}

const PLAIN_PATH = /^\/[A-Za-z0-9_~/-]*$/;
/** Query characters the URL parser keeps as they are (no space, quote, angle bracket, backslash, fragment...). */
const PLAIN_QUERY = /^[A-Za-z0-9._~%&=+,:@/?-]*$/;

export function requestUrl(target: string | undefined): RequestUrl {
  const raw = target ?? '/';
  const q = raw.indexOf('?');
  const pathname = q < 0 ? raw : raw.slice(0, q);
  if (!PLAIN_PATH.test(pathname) || pathname.includes('//') || (q >= 0 && !PLAIN_QUERY.test(raw.slice(q + 1)))) return new URL(raw, 'http://daemon');
  let params: URLSearchParams | undefined;
  return {
    pathname,
    get searchParams() {
      // With its "?": URLSearchParams drops one leading "?", and the query itself may start with another.
      return (params ??= new URLSearchParams(q < 0 ? '' : raw.slice(q)));
    },
  };
}
