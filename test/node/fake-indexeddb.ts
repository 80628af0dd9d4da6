// fake-indexeddb for the Node suites: idb checks `instanceof IDBRequest` (and the other IDB classes)
// against globals, so a test file that uses fake-indexeddb installs its classes as globals.
import * as fake from "fake-indexeddb";
import { afterAll, beforeAll, vi } from "vitest";

const fakeGlobals = {
  IDBCursor: fake.IDBCursor,
  IDBCursorWithValue: fake.IDBCursorWithValue,
  IDBDatabase: fake.IDBDatabase,
  IDBIndex: fake.IDBIndex,
  IDBKeyRange: fake.IDBKeyRange,
  IDBObjectStore: fake.IDBObjectStore,
  IDBOpenDBRequest: fake.IDBOpenDBRequest,
  IDBRequest: fake.IDBRequest,
  IDBTransaction: fake.IDBTransaction,
  IDBVersionChangeEvent: fake.IDBVersionChangeEvent,
};

/** Installs fake-indexeddb's classes as globals for the calling test file (removed after it). */
export function useFakeIndexedDbGlobals(): void {
  beforeAll(() => {
    for (const [name, value] of Object.entries(fakeGlobals)) vi.stubGlobal(name, value);
  });
  afterAll(() => {
    vi.unstubAllGlobals();
  });
}
