/**
 * Keeps one of `process.nextTick`'s queue entries alive for the life of the process, so that
 * V8 keeps the hidden class (map) those entries share.
 *
 * Why: nextTick builds each entry as an object literal with computed symbol keys, and V8 caches
 * each key's definition against the map the object had just before it. Those maps are held
 * weakly. A full garbage collection that runs while the tick queue is empty frees them; the next
 * entry gets new maps, its cache finds a map it did not record, and marks the site megamorphic
 * for good. From then on every nextTick (inlined into Node's stream code, 18 to 27 calls a
 * request) defines its properties through V8's runtime: 17–24% of a cached whoami's instructions
 * (callgrind; docs/BENCHMARKS.md, session 14). Node 20 and 24 both do this; a process holding
 * one entry never does (test/pin-tick-shape.test.ts checks both).
 *
 * Import this module first, before anything that loads much code: the pin must be in place
 * before the first full collection after nextTick's cache is set.
 */
import { createHook } from 'node:async_hooks';

function captureTickObject(): object | undefined {
  let captured: object | undefined;
  // The init hook is the one place Node hands out a queue entry (as the resource of a
  // "TickObject"); it is enabled for this one call only.
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject' && captured === undefined) captured = resource;
    },
  }).enable();
  try {
    process.nextTick(() => {});
  } finally {
    hook.disable();
  }
  return captured;
}

export const pinnedTickObject: object | undefined = captureTickObject();
