// Package realtrino runs real Trino for the real-Trino drill (make demo-trino, and one
// failover in make test): the pinned Trino server fetched once into a cache outside the
// repository and verified (Fetch), Linux network namespaces that stand in for the
// coordinator hosts, the worker and the client, joined by a bridge in a "VPC" namespace
// (Network), the coordinator ENI as a real interface that moves between them (ENI),
// Trino processes started inside them (Start), and a client that runs a real query
// through the coordinator IP with github.com/trinodb/trino-go-client (Client).
//
// # Network rules
//
// Everything the drill creates lives in namespaces it creates and removes: the VPC
// namespace holds the bridge and one end of every veth pair; the other end is in a host,
// worker or client namespace. No interface is created in the machine's own namespace
// and no namespace has a default route, so no packet can leave them (CheckIsolated
// asserts it after every run). Addresses come from 198.18.0.0/15, the range reserved for
// network benchmarks (RFC 2544). Namespaces are named after the process that made them
// (chatr<pid>-...); a leftover from a crashed run is removed, with its processes, at the
// next start once its owner is gone (RemoveStale).
package realtrino
