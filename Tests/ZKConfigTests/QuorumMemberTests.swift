import Testing
@testable import ZKConfig

@Suite struct QuorumMemberTests {
    private func member(_ value: String, id: Int64 = 1) -> QuorumMember? {
        try? QuorumMember.parse(id: id, value: value).get()
    }

    private func reason(_ value: String) -> String? {
        guard case .failure(let reason) = QuorumMember.parse(id: 1, value: value) else { return nil }
        return reason.text
    }

    @Test func hostAndTwoPorts() {
        #expect(member("zk1.example.com:2888:3888")
            == QuorumMember(id: 1, host: "zk1.example.com", quorumPort: 2888, electionPort: 3888, role: .participant))
    }

    @Test func roles() {
        #expect(member("zk1:2888:3888:observer")?.role == .observer)
        #expect(member("zk1:2888:3888:Participant")?.role == .participant)
        #expect(reason("zk1:2888:3888:leader") == "role must be participant or observer")
    }

    @Test func clientPortOnlyMeansAllAddresses() {
        let parsed = member("zk1:2888:3888;2181")
        #expect(parsed?.clientAddress == "0.0.0.0")
        #expect(parsed?.clientPort == 2181)
    }

    @Test func clientAddressAndPortWithRole() {
        #expect(member("zk1:2888:3888:observer;127.0.0.1:2182", id: 7) == QuorumMember(
            id: 7, host: "zk1", quorumPort: 2888, electionPort: 3888, role: .observer,
            clientAddress: "127.0.0.1", clientPort: 2182))
    }

    @Test func trailingSemicolonIsIgnoredLikeJavaSplit() {
        #expect(member("zk1:2888:3888;")?.clientPort == nil)
    }

    @Test func bracketedIPv6Literals() {
        let parsed = member("[2001:db8::1]:2888:3888:participant;[::1]:2181")
        #expect(parsed?.host == "2001:db8::1")
        #expect(parsed?.quorumPort == 2888)
        #expect(parsed?.electionPort == 3888)
        #expect(parsed?.clientAddress == "::1")
        #expect(parsed?.configurationValue == "[2001:db8::1]:2888:3888:participant;[::1]:2181")
        #expect(reason("[2001:db8::1:2888:3888") != nil)
    }

    @Test func malformedShapes() {
        let format = "expected host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]"
        #expect(reason("zk1") == format)
        #expect(reason("zk1:2888") == format)
        #expect(reason("zk1:1:2:observer:extra") == format)
        #expect(reason(":2888:3888") == format)
        #expect(reason("zk1:2888:3888;2181;2182") == format)
    }

    @Test func badPorts() {
        #expect(reason("zk1:abc:3888") == "ports must be integers from 1 to 65535")
        #expect(reason("zk1:2888:70000") == "ports must be integers from 1 to 65535")
        #expect(reason("zk1:0:3888") == "ports must be integers from 1 to 65535")
        #expect(reason("zk1:2888:2888") == "quorum and election ports must be different")
        #expect(reason("zk1:2888:3888;a:b:c")
            == "client part must be [clientHost:]clientPort with a port from 1 to 65535")
        #expect(reason("zk1:2888:3888;host:notaport")
            == "client part must be [clientHost:]clientPort with a port from 1 to 65535")
    }

    @Test func multipleAddressesAreRejected() {
        #expect(reason("zk1:2888:3888|zk1b:2888:3888") == "multiple addresses separated by | are not supported")
    }

    @Test func serversParsedFromAFileAreSortedById() throws {
        let text = """
            dataDir=/d
            initLimit=5
            syncLimit=2
            server.3=zk3:2888:3888:observer
            server.2=zk2:2888:3888;2181
            server.1=zk1:2888:3888
            server.1=zk1-moved:2888:3888
            """
        let configuration = try ServerConfiguration.parse(text)
        #expect(configuration.servers.map(\.id) == [1, 2, 3])
        #expect(configuration.servers[0].host == "zk1-moved")
        #expect(configuration.participants.map(\.id) == [1, 2])
        #expect(configuration.observers.map(\.id) == [3])
        #expect(configuration.isDistributed)
        #expect(configuration.servers.map(\.configurationValue) == [
            "zk1-moved:2888:3888:participant", "zk2:2888:3888:participant;0.0.0.0:2181", "zk3:2888:3888:observer",
        ])
    }
}
