/// zxid = epoch << 32 | counter (ZxidUtils). Kept as Int64 because that is its wire type.
public enum ZxidMath {
    public static func make(epoch: Int64, counter: Int64) -> Int64 { (epoch << 32) | (counter & 0xffff_ffff) }
    public static func epoch(_ zxid: Int64) -> Int64 { zxid >> 32 }
    public static func counter(_ zxid: Int64) -> Int64 { zxid & 0xffff_ffff }
    public static func hex(_ zxid: Int64) -> String { "0x" + String(UInt64(bitPattern: zxid), radix: 16) }
}

/// Special ids ZooKeeper gives an ephemeralOwner: containers and TTL nodes are marked in it.
public enum EphemeralOwner {
    /// Container nodes have ephemeralOwner = Long.MIN_VALUE (EphemeralType.CONTAINER_EPHEMERAL_OWNER).
    public static let container: Int64 = Int64.min
    /// Extended types (EphemeralType): high byte 0xFF, a 16-bit feature number in bits 40-55
    /// (0 = TTL), and the value in the low 40 bits.
    public static let extendedMask: Int64 = Int64(bitPattern: 0xff00_0000_0000_0000)
    public static let featureMask: Int64 = 0x00ff_ff00_0000_0000
    public static let ttlMaximum: Int64 = 0x0000_00ff_ffff_ffff

    public static func ttl(_ milliseconds: Int64) -> Int64 { extendedMask | (milliseconds & ttlMaximum) }
    public static func isTTL(_ owner: Int64) -> Bool {
        owner != container && (owner & extendedMask) == extendedMask && (owner & featureMask) == 0
    }
    public static func ttlValue(_ owner: Int64) -> Int64 { owner & ttlMaximum }
    /// True when the owner is a real session (an ephemeral node).
    public static func isSession(_ owner: Int64) -> Bool { owner != 0 && owner != container && !isTTL(owner) }
}
