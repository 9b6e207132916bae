/**
 * The HTTP shapes the broker's handlers work with, free of `@azure/functions`: the host's
 * `HttpRequest` satisfies `CoreHttpRequest`, and the function adapter hands `CoreHttpResponse` back
 * unchanged. Tests and the local host build them directly.
 */
/** The part of an HTTP request the core reads; `@azure/functions` `HttpRequest` satisfies it. */
export interface CoreHttpRequest {
  method: string;
  url: string;
  headers: { get(name: string): string | null };
  query: URLSearchParams;
  text(): Promise<string>;
}

/** What the core answers; the function adapters hand it to the host unchanged. */
export interface CoreHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}
