import ZKBase
import ZKTree

/// ZooKeeper's tree digest (`DigestCalculator`, version 2) of a Paddock tree.
///
/// Paddock keeps the same sum (FORMAT.md section 4) with one difference in the root's term:
/// ZooKeeper keys the root as "" (and `calculateDigest` maps "/" to ""), so the root's CRC32
/// covers no path bytes, where Paddock's `DataTree.digest` covers its key "/". Every other term
/// is the same, so ZooKeeper's value is Paddock's with the root's term swapped.
public enum ZooKeeperDigest {
    public static let version: Int32 = 2

    public static func treeDigest(_ tree: DataTree) -> UInt64 {
        guard let root = tree.node("/") else { return tree.digest }
        return tree.digest &- DataTree.nodeDigest(path: "/", node: root) &+ rootDigest(data: root.data, stat: root.stat)
    }

    /// CRC32 of the data and the 60-byte stat, with no path bytes.
    static func rootDigest(data: [UInt8]?, stat s: StatPersisted) -> UInt64 {
        var crc: UInt32 = 0
        if let data { crc = CRC32.checksum(data, seed: crc) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(60)
        for value in [s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime] { append(&bytes, UInt64(bitPattern: value)) }
        for value in [s.version, s.cversion, s.aversion] { append(&bytes, UInt32(bitPattern: value)) }
        append(&bytes, UInt64(bitPattern: s.ephemeralOwner))
        return UInt64(CRC32.checksum(bytes, seed: crc))
    }

    static func append<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}
