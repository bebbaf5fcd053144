/** The start of the line the probe prints for an uncaught exception or unhandled rejection in the server. */
export const PROBE_MARKER = 'RELIABILITY-PROBE';
