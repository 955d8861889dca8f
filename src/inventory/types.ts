/**
 * The inventory: a plain, serialisable snapshot of what Docker runs.
 * `dockward inventory` prints it; `dockward plan --inventory FILE` compiles from it.
 * Every string in here came from Docker and is untrusted: names, labels, images and
 * bridge names never reach rule text except as validated or hashed tokens.
 */

export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface Network {
  /** Full 64-hex network id. */
  readonly id: string;
  readonly name: string;
  /** Linux bridge interface: docker0, br-<id12>, or com.docker.network.bridge.name. */
  readonly bridge: string;
  /** True for Docker's default `bridge` network (docker0). */
  readonly isDefault: boolean;
  readonly internal: boolean;
  readonly subnets: readonly Subnet[];
  /** Driver options as Docker reports them (com.docker.network.bridge.*), unfiltered. */
  readonly options: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
}

export interface Subnet {
  readonly family: 'ipv4' | 'ipv6';
  /** CIDR, e.g. 172.18.0.0/16. */
  readonly cidr: string;
  readonly gateway?: string;
}

export interface Container {
  /** Full 64-hex container id. */
  readonly id: string;
  /** Name without Docker's leading slash. */
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Labels the container inherited from its image (to tell the operator's words from the image author's). */
  readonly imageLabels?: Readonly<Record<string, string>>;
  readonly compose?: { readonly project: string; readonly service: string };
  /** host | none | container:<id> | bridge | <network name>; "bridge-like" modes carry endpoints. */
  readonly networkMode: string;
  readonly endpoints: readonly Endpoint[];
  readonly ports: readonly PortBinding[];
  /** Legacy `--link`s: names of the containers this one links to (HostConfig.Links). */
  readonly links?: readonly string[];
  /** Ports the image or `--expose` declares ("80/tcp"): what a link opens with ICC off. */
  readonly exposedPorts?: readonly string[];
}

export interface Endpoint {
  readonly networkId: string;
  readonly networkName: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
}

export interface PortBinding {
  readonly protocol: Protocol;
  readonly containerPort: number;
  /** As Docker reports it: "" and "0.0.0.0" mean every IPv4 address, "::" every IPv6 address. */
  readonly hostIp: string;
  readonly hostPort: number;
}

export interface Inventory {
  readonly networks: readonly Network[];
  readonly containers: readonly Container[];
}
