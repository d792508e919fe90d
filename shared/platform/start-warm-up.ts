import { warmUpInBackground } from './warm-up';

// `services.ts` imports this module before anything else, so the worker starts before the Storage
// and Cosmos SDKs load on the main thread (some 150 ms earlier in the local host) and its warm-up
// is over before the first request needs ICU or ONNX Runtime.
warmUpInBackground();
