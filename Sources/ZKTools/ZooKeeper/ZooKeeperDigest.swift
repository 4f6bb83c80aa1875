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

    public static func treeDigest(_ tree: DataTree) -> UInt64 { tree.zooKeeperDigest }

}
