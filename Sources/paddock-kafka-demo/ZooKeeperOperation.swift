import PaddockClient

/// PaddockClient's multi op, under a name Foundation's `Operation` does not shadow (this file
/// does not import Foundation).
typealias ZooKeeperOperation = Operation
