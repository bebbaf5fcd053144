/**
 * A failure of the server's own (not a client's mistake): written to stderr behind one marker, so
 * operators can alert on it and the reliability runs count every one as a violation.
 */
export const FAILURE_MARKER = '[server-failure]';

export function reportFailure(what: string, error?: unknown): void {
	if (error === undefined) console.error(`${FAILURE_MARKER} ${what}`);
	else console.error(`${FAILURE_MARKER} ${what}`, error);
}
