import NIOCore
import ZKBase

extension Id: JuteRecord {
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteString(scheme)
        buffer.writeJuteString(id)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.init(scheme: try buffer.readJuteNonNullString("Id.scheme"), id: try buffer.readJuteNonNullString("Id.id"))
    }
}

extension ACL: JuteRecord {
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteInt(perms.rawValue)
        id.encode(into: &buffer)
    }
    public init(from buffer: inout ByteBuffer) throws {
        let perms = Perms(rawValue: try buffer.readJuteInt("ACL.perms"))
        self.init(perms: perms, id: try Id(from: &buffer))
    }
}

extension ByteBuffer {
    public mutating func writeACLVector(_ acl: [ACL]?) {
        guard let acl else {
            writeJuteInt(-1)
            return
        }
        writeJuteInt(Int32(acl.count))
        for entry in acl { entry.encode(into: &self) }
    }

    public mutating func readACLVector(_ field: String) throws -> [ACL]? {
        guard let count = try readJuteVectorCount(field, minimumElementBytes: 12) else { return nil }
        var acl: [ACL] = []
        acl.reserveCapacity(count)
        for _ in 0..<count { acl.append(try ACL(from: &self)) }
        return acl
    }
}

extension Stat: JuteRecord {
    public static let encodedSize = 68

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteRecord(byteCount: Self.encodedSize) { store(into: &$0) }
    }

    func store(into writer: inout JuteRawWriter) {
        writer.int64(czxid)
        writer.int64(mzxid)
        writer.int64(ctime)
        writer.int64(mtime)
        writer.int32(version)
        writer.int32(cversion)
        writer.int32(aversion)
        writer.int64(ephemeralOwner)
        writer.int32(dataLength)
        writer.int32(numChildren)
        writer.int64(pzxid)
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.init(
            czxid: try buffer.readJuteLong("Stat.czxid"), mzxid: try buffer.readJuteLong("Stat.mzxid"),
            ctime: try buffer.readJuteLong("Stat.ctime"), mtime: try buffer.readJuteLong("Stat.mtime"),
            version: try buffer.readJuteInt("Stat.version"), cversion: try buffer.readJuteInt("Stat.cversion"),
            aversion: try buffer.readJuteInt("Stat.aversion"),
            ephemeralOwner: try buffer.readJuteLong("Stat.ephemeralOwner"),
            dataLength: try buffer.readJuteInt("Stat.dataLength"),
            numChildren: try buffer.readJuteInt("Stat.numChildren"), pzxid: try buffer.readJuteLong("Stat.pzxid"))
    }
}

extension StatPersisted: JuteRecord {
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteLong(czxid)
        buffer.writeJuteLong(mzxid)
        buffer.writeJuteLong(ctime)
        buffer.writeJuteLong(mtime)
        buffer.writeJuteInt(version)
        buffer.writeJuteInt(cversion)
        buffer.writeJuteInt(aversion)
        buffer.writeJuteLong(ephemeralOwner)
        buffer.writeJuteLong(pzxid)
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.init()
        czxid = try buffer.readJuteLong("StatPersisted.czxid")
        mzxid = try buffer.readJuteLong("StatPersisted.mzxid")
        ctime = try buffer.readJuteLong("StatPersisted.ctime")
        mtime = try buffer.readJuteLong("StatPersisted.mtime")
        version = try buffer.readJuteInt("StatPersisted.version")
        cversion = try buffer.readJuteInt("StatPersisted.cversion")
        aversion = try buffer.readJuteInt("StatPersisted.aversion")
        ephemeralOwner = try buffer.readJuteLong("StatPersisted.ephemeralOwner")
        pzxid = try buffer.readJuteLong("StatPersisted.pzxid")
    }
}
