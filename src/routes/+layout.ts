// The app renders in the browser only: the same shell serves every page, so the service worker can
// start it with no network, and all data comes from this device first.
export const ssr = false;
