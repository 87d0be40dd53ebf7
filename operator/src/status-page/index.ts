// What the kubectl plugin shares with the status page: one reading of windows and members.
export { buildWindowView, keyOf, type MemberView, type StatusSnapshot, type WindowView } from './model.ts';
export { liveStatusSource, type MemberReader, type StatusSource } from './source.ts';
