// The one place the UI imports its view library from: Preact with htm (tagged templates
// instead of JSX, so there is no build step). htm escapes every interpolated value: data is
// never parsed as markup. Nothing in the UI sets innerHTML.

import { h, render, Fragment } from "/static/vendor/preact-11.2.0/preact.mjs";
import htm from "/static/vendor/htm-3.1.1/htm.mjs";

export { h, render, Fragment };
export {
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from "/static/vendor/preact-11.2.0/hooks.mjs";
export const html = htm.bind(h);
