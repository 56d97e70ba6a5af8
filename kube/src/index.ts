// Floe's generic Kubernetes machinery, shared by the operator and the control plane's driver:
// a small REST client, informers, a work queue, leader election and the built-in kinds.
export * from './informer.ts';
export * from './kube.ts';
export * from './leader.ts';
export * from './queue.ts';
export * from './resources.ts';
