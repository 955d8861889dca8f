/** The lab: real dockerd, real containers and client namespaces for end-to-end tests. */
export { startLab, sweepStaleLabs, destroyLabSync, LAB_ADDR, LAB_RUN_ROOT } from './lab.js';
export type { Lab, LabOptions, ProbeFrom } from './lab.js';
export { Dockerd, ping as pingDockerd } from './dockerd.js';
export type { DockerdConfig, StopOptions } from './dockerd.js';
export { IMAGE, imageTar, importImage } from './image.js';
export { DEFAULT_UDP_PORT } from './containers.js';
export type { ContainerOptions, ServiceOptions, PlainOptions } from './containers.js';
export type { ClientServer, SeenRequest } from './client-server.js';
export type { ProbeOptions, UdpProbeOptions, TcpOutcome } from './probes.js';
export { addNetns, addVeth, deleteNetnsSync, execIn, listNetns, spawnIn } from './netns.js';
export type { ExecInOptions, ExecResult } from './netns.js';
