import Benchmark
import NIOCore
import ZKBase
import ZKWire

/// Jute codecs: client requests (decode is what the server does per frame, encode what a client
/// or the load generator does), replies, and txns (encoded once per write for the log, decoded on
/// replay). Values are 128 bytes; encoders write into one reused ByteBuffer, decoders read a copy
/// of one encoded ByteBuffer (sharing its storage), so buffer allocation is not counted.
func codecBenchmarks() {
    let acl = ACL.openUnsafe
    let requests: [(String, ClientRequest)] = [
        ("create", ClientRequest(xid: 7, opCodeRaw: OpCode.create.rawValue, body: .create(
            opCode: .create, CreateRequest(path: Fixture.path, data: Fixture.value128, acl: acl, flags: 0)))),
        ("getData", ClientRequest(xid: 7, opCodeRaw: OpCode.getData.rawValue, body: .getData(path: Fixture.path, watch: true))),
        ("setData", ClientRequest(xid: 7, opCodeRaw: OpCode.setData.rawValue, body: .setData(
            path: Fixture.path, data: Fixture.value128, version: 3))),
        ("getChildren", ClientRequest(xid: 7, opCodeRaw: OpCode.getChildren.rawValue, body: .getChildren(
            opCode: .getChildren, path: "/app/service-7", watch: true))),
        ("multi(check,create,setData)", ClientRequest(xid: 7, opCodeRaw: OpCode.multi.rawValue, body: .multi([
            .check(path: "/app/service-7", version: 0),
            .create(opCode: .create, CreateRequest(path: Fixture.path, data: Fixture.value128, acl: acl, flags: 0)),
            .setData(path: "/app/service-7/member-0000001000", data: Fixture.value128, version: -1),
        ]))),
    ]
    for (name, request) in requests {
        let encoded = encode(request.encode(into:))
        Benchmark("Request decode \(name)", configuration: BenchConfiguration.micro) { benchmark in
            for _ in benchmark.scaledIterations {
                var buffer = encoded
                blackHole(try ClientRequest.decode(from: &buffer))
            }
        }
        Benchmark("Request encode \(name)", configuration: BenchConfiguration.micro) { benchmark in
            var buffer = ByteBufferAllocator().buffer(capacity: 4096)
            for _ in benchmark.scaledIterations {
                buffer.clear()
                request.encode(into: &buffer)
                blackHole(buffer.readableBytes)
            }
        }
    }

    var stat = Stat()
    stat.czxid = Fixture.zxid(10)
    stat.mzxid = Fixture.zxid(900)
    stat.pzxid = Fixture.zxid(10)
    stat.ctime = Fixture.time
    stat.mtime = Fixture.time + 5_000
    stat.version = 3
    stat.dataLength = 128
    let children = (0..<100).map { "member-" + String(1_000_000_000 + $0) }
    let replies: [(String, ResponseBody)] = [
        ("getData (128 B)", .getData(data: Fixture.value128, stat: stat)),
        ("stat", .stat(stat)),
        ("children (100 names)", .children(children)),
    ]
    for (name, reply) in replies {
        let header = ReplyHeader(xid: 7, zxid: Fixture.zxid(1_000), err: 0)
        Benchmark("Reply encode \(name)", configuration: BenchConfiguration.micro) { benchmark in
            var buffer = ByteBufferAllocator().buffer(capacity: 4096)
            for _ in benchmark.scaledIterations {
                buffer.clear()
                header.encode(into: &buffer)
                reply.encode(into: &buffer)
                blackHole(buffer.readableBytes)
            }
        }
    }

    let create = CreateTxn(path: Fixture.path, data: Fixture.value128, acl: acl, ephemeral: false, parentCVersion: 12)
    let txns: [(String, Txn)] = [
        ("create", Txn(header: Fixture.header(.create), body: .create(create))),
        ("setData", Txn(header: Fixture.header(.setData), body: .setData(path: Fixture.path, data: Fixture.value128, version: 4))),
        ("delete", Txn(header: Fixture.header(.delete), body: .delete(path: Fixture.path))),
        ("multi(check,create,setData)", Txn(header: Fixture.header(.multi), body: .multi([
            .check(path: "/app/service-7", version: 0),
            .create(create),
            .setData(path: "/app/service-7/member-0000001000", data: Fixture.value128, version: 1),
        ]))),
    ]
    for (name, txn) in txns {
        let encoded = encode(txn.encode(into:))
        Benchmark("Txn encode \(name)", configuration: BenchConfiguration.micro) { benchmark in
            var buffer = ByteBufferAllocator().buffer(capacity: 4096)
            for _ in benchmark.scaledIterations {
                buffer.clear()
                txn.encode(into: &buffer)
                blackHole(buffer.readableBytes)
            }
        }
        Benchmark("Txn decode \(name)", configuration: BenchConfiguration.micro) { benchmark in
            for _ in benchmark.scaledIterations {
                var buffer = encoded
                blackHole(try Txn.decode(from: &buffer))
            }
        }
    }
}

private func encode(_ body: (inout ByteBuffer) -> Void) -> ByteBuffer {
    var buffer = ByteBufferAllocator().buffer(capacity: 1024)
    body(&buffer)
    return buffer
}
