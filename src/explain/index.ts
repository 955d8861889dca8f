/** explain: who may reach a container (published ports, other containers, the host), whom it may reach, which rule decides, and what the rules do with one source. */
export { explain, type ExplainInput } from './explain.js';
export { renderText } from './text.js';
export { parseFrom, type FromSpec, type HostAddress, type Source } from './source.js';
export { findContainer, closeNames } from './find.js';
export type { Answer, BindingView, Decider, Explanation, HostDirectView, LineView, OutboundView, PathLine, PathStep, PeerView } from './model.js';
