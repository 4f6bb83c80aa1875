/// Node metadata exactly as ZooKeeper's `Stat` record (68 bytes on the wire).
public struct Stat: Sendable, Hashable {
    public var czxid: Int64 = 0
    public var mzxid: Int64 = 0
    public var ctime: Int64 = 0
    public var mtime: Int64 = 0
    public var version: Int32 = 0
    public var cversion: Int32 = 0
    public var aversion: Int32 = 0
    public var ephemeralOwner: Int64 = 0
    public var dataLength: Int32 = 0
    public var numChildren: Int32 = 0
    public var pzxid: Int64 = 0

    public init() {}

    public init(
        czxid: Int64, mzxid: Int64, ctime: Int64, mtime: Int64, version: Int32, cversion: Int32,
        aversion: Int32, ephemeralOwner: Int64, dataLength: Int32, numChildren: Int32, pzxid: Int64
    ) {
        self.czxid = czxid
        self.mzxid = mzxid
        self.ctime = ctime
        self.mtime = mtime
        self.version = version
        self.cversion = cversion
        self.aversion = aversion
        self.ephemeralOwner = ephemeralOwner
        self.dataLength = dataLength
        self.numChildren = numChildren
        self.pzxid = pzxid
    }
}

/// What a node stores (StatPersisted): Stat without dataLength and numChildren, which are derived.
public struct StatPersisted: Sendable, Hashable {
    // The 32-bit fields last: 60 bytes with no padding inside, so a DataNode keeps its cached
    // digest in the 4 bytes that follow (ZooKeeper's field order is kept by the codecs, not here).
    public var czxid: Int64 = 0
    public var mzxid: Int64 = 0
    public var ctime: Int64 = 0
    public var mtime: Int64 = 0
    public var ephemeralOwner: Int64 = 0
    public var pzxid: Int64 = 0
    public var version: Int32 = 0
    public var cversion: Int32 = 0
    public var aversion: Int32 = 0

    public init() {}

    public func stat(dataLength: Int32, numChildren: Int32) -> Stat {
        Stat(
            czxid: czxid, mzxid: mzxid, ctime: ctime, mtime: mtime, version: version, cversion: cversion,
            aversion: aversion, ephemeralOwner: ephemeralOwner, dataLength: dataLength,
            numChildren: numChildren, pzxid: pzxid)
    }
}
