import Testing
import ZKBase
import ZKPipeline
import ZKTree
import ZKWire

@Suite struct ServerCoreAuthTests {
    @Test func digestAuthThenWhoAmI() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        let before = harness.send(1, 1, .whoAmI)
        #expect(before.reply(1, xid: 1)?.body == .whoAmI([ClientInfo(authScheme: "ip", user: "127.0.0.1")]))
        let authed = harness.send(1, SpecialXid.auth, auth("bob:secret"))
        #expect(authed.reply(1, xid: SpecialXid.auth)?.header == ReplyHeader(xid: SpecialXid.auth, zxid: 0, err: 0))
        #expect(authed.persisted.isEmpty)
        let after = harness.send(1, 2, .whoAmI)
        guard case .whoAmI(let infos)? = after.reply(1, xid: 2)?.body else {
            Issue.record("expected WhoAmIResponse")
            return
        }
        // The digest provider's user name is the user alone, not user:hash (AuthUtil.getClientInfos).
        #expect(Set(infos.map { "\($0.authScheme):\($0.user)" }) == ["ip:127.0.0.1", "digest:bob"])
    }

    @Test func unknownAuthSchemeFailsAndCloses() {
        var harness = CoreHarness()
        _ = harness.session(1)
        let outputs = harness.send(1, SpecialXid.auth, .auth(type: 0, scheme: "kerberos", auth: [1, 2]))
        #expect(outputs.reply(1, xid: SpecialXid.auth)?.header == ReplyHeader(xid: SpecialXid.auth, zxid: 0, err: ErrorCode.authFailed.rawValue))
        #expect(outputs.closed == [1])
    }

    /// /secret readable and writable only by bob (created through the "auth" ACL id).
    static func secretOwnedByBob() -> CoreHarness {
        var harness = CoreHarness(CoreConfiguration(tickMs: 2000, superDigest: DigestAuthentication.digest(userAndPassword: "super:test")))
        _ = harness.session(1)
        _ = harness.send(1, SpecialXid.auth, auth("bob:secret"))
        _ = harness.call(1, 1, create("/secret", "s", acl: ACL.creatorAll))
        _ = harness.session(2)
        return harness
    }

    @Test func authACLIsExpandedToTheDigestId() throws {
        let harness = Self.secretOwnedByBob()
        #expect(harness.core.tree.node("/secret")?.acl == [ACL(perms: .all, id: digestId("bob:secret"))])
    }

    @Test func digestACLDeniesOthers() throws {
        var harness = Self.secretOwnedByBob()
        #expect(harness.send(2, 1, .getData(path: "/secret", watch: false)).error(2, xid: 1) == .noAuth)
        #expect(harness.send(2, 2, .getChildren(opCode: .getChildren, path: "/secret", watch: false)).error(2, xid: 2) == .noAuth)
        #expect(harness.call(2, 3, .setData(path: "/secret", data: [], version: -1)).error(2, xid: 3) == .noAuth)
        #expect(harness.call(2, 4, create("/secret/kid")).error(2, xid: 4) == .noAuth)
        #expect(harness.call(2, 5, .setACL(path: "/secret", acl: ACL.openUnsafe, version: -1)).error(2, xid: 5) == .noAuth)
        // exists needs no permission.
        #expect(harness.send(2, 6, .exists(path: "/secret", watch: false)).error(2, xid: 6) == .ok)
        // A wrong password is a different digest.
        _ = harness.send(2, SpecialXid.auth, auth("bob:wrong"))
        #expect(harness.send(2, 7, .getData(path: "/secret", watch: false)).error(2, xid: 7) == .noAuth)
        _ = harness.send(2, SpecialXid.auth, auth("bob:secret"))
        #expect(harness.send(2, 8, .getData(path: "/secret", watch: false)).error(2, xid: 8) == .ok)
    }

    @Test func deleteNeedsDeleteOnTheParent() {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/p", acl: [ACL(perms: [.read, .create], id: .anyone)]))
        _ = harness.call(1, 2, create("/p/c"))
        #expect(harness.call(1, 3, .delete(path: "/p/c", version: -1)).error(1, xid: 3) == .noAuth)
    }

    @Test func superDigestBypassesACLs() {
        var harness = Self.secretOwnedByBob()
        _ = harness.send(2, SpecialXid.auth, auth("super:test"))
        #expect(harness.send(2, 1, .getData(path: "/secret", watch: false)).error(2, xid: 1) == .ok)
        #expect(harness.call(2, 2, .setData(path: "/secret", data: [1], version: -1)).error(2, xid: 2) == .ok)
        #expect(harness.call(2, 3, .delete(path: "/secret", version: -1)).error(2, xid: 3) == .ok)
        guard case .whoAmI(let infos)? = harness.send(2, 4, .whoAmI).reply(2, xid: 4)?.body else {
            Issue.record("expected WhoAmIResponse")
            return
        }
        #expect(infos.contains(ClientInfo(authScheme: "super", user: "")))
    }

    @Test func getACLWithoutAdminHidesDigestHashes() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        let acl = [ACL(perms: .read, id: .anyone), ACL(perms: .all, id: digestId("bob:secret"))]
        _ = harness.call(1, 1, create("/r", acl: acl))
        guard case .getACL(let seen, _)? = harness.send(1, 2, .getACL(path: "/r")).reply(1, xid: 2)?.body else {
            Issue.record("expected GetACLResponse")
            return
        }
        #expect(seen == [ACL(perms: .read, id: .anyone), ACL(perms: .all, id: Id(scheme: "digest", id: "bob:x"))])
        _ = harness.send(1, SpecialXid.auth, auth("bob:secret"))
        guard case .getACL(let full, _)? = harness.send(1, 3, .getACL(path: "/r")).reply(1, xid: 3)?.body else {
            Issue.record("expected GetACLResponse")
            return
        }
        #expect(full == acl)
    }

    @Test func ipACLMatchesTheConnectionAddress() {
        var harness = CoreHarness()
        _ = harness.session(1, address: "10.1.2.3")
        _ = harness.session(2, address: "192.168.0.9")
        _ = harness.call(1, 1, create("/net", acl: [ACL(perms: .all, id: Id(scheme: "ip", id: "10.0.0.0/8"))]))
        #expect(harness.send(1, 2, .getData(path: "/net", watch: false)).error(1, xid: 2) == .ok)
        #expect(harness.send(2, 1, .getData(path: "/net", watch: false)).error(2, xid: 1) == .noAuth)
    }

    @Test func watchEventsNeedReadPermission() {
        // CVE-2024-23944 fix (in Debian's 3.8): events go only to watchers that may read the node.
        var harness = Self.secretOwnedByBob()
        _ = harness.send(2, 1, .exists(path: "/secret", watch: true))
        let outputs = harness.call(1, 2, .setData(path: "/secret", data: [2], version: -1))
        #expect(outputs.events(2).isEmpty)
    }

    @Test func authReplyDoesNotOvertakeTheConnectResponse() {
        // ZooKeeper stops reading a connection until its session exists (disableRecv in
        // processConnectRequest), so a pipelined auth is answered after the ConnectResponse.
        var harness = CoreHarness()
        harness.open(1)
        var outputs = harness.connect(1)
        outputs += harness.send(1, SpecialXid.auth, auth("bob:secret"))
        outputs += harness.commit()
        let order = outputs.compactMap { output -> String? in
            switch output {
            case .connected: return "connected"
            case .reply(_, let header, _): return "reply \(header.xid)"
            default: return nil
            }
        }
        #expect(order == ["connected", "reply -4"])
    }
}

@Suite struct AccessControlTests {
    @Test func fixupExpandsAuthAndDropsDuplicates() {
        let bob = digestId("bob:secret")
        let fixed = AccessControl.fixup(ACL.openUnsafe + ACL.openUnsafe + ACL.creatorAll, authInfo: [Id(scheme: "ip", id: "1.2.3.4"), bob])
        #expect(fixed == ACL.openUnsafe + [ACL(perms: .all, id: bob)])
    }

    @Test(arguments: [
        (Id(scheme: "digest", id: "a:b"), true), (Id(scheme: "digest", id: "a:b:c"), false), (Id(scheme: "digest", id: "a"), false),
        (Id(scheme: "ip", id: "10.0.0.0/8"), true), (Id(scheme: "ip", id: "1.2.3.4"), true), (Id(scheme: "ip", id: "1.2.3"), false),
        (Id(scheme: "ip", id: "1.2.3.4/33"), false), (Id(scheme: "ip", id: "1.2.3.256"), false),
        (Id(scheme: "world", id: "anyone"), true), (Id(scheme: "world", id: "someone"), false), (Id(scheme: "x509", id: "cn"), false),
    ])
    func idValidityMatchesZooKeeperProviders(_ id: Id, _ valid: Bool) {
        // Expectations printed by ZooKeeper 3.8.0's DigestAuthenticationProvider / IPAuthenticationProvider.isValid.
        #expect((AccessControl.fixup([ACL(perms: .all, id: id)], authInfo: []) != nil) == valid, "\(id)")
    }

    @Test func ipv6ACLIdsAreInvalidIn38() {
        // IPAuthenticationProvider.isValid("::1") and ("fe80::1/64") are false in ZooKeeper 3.8.0.
        #expect(AccessControl.fixup([ACL(perms: .all, id: Id(scheme: "ip", id: "::1"))], authInfo: []) == nil)
        #expect(AccessControl.fixup([ACL(perms: .all, id: Id(scheme: "ip", id: "fe80::1/64"))], authInfo: []) == nil)
    }

    @Test func checkRules() {
        let bob = digestId("bob:secret")
        #expect(AccessControl.check([], .write, authInfo: []), "an empty ACL allows everything")
        #expect(AccessControl.check(ACL.readUnsafe, .read, authInfo: []))
        #expect(!AccessControl.check(ACL.readUnsafe, .write, authInfo: []))
        #expect(AccessControl.check([ACL(perms: .all, id: bob)], .delete, authInfo: [bob]))
        #expect(!AccessControl.check([ACL(perms: .all, id: bob)], .delete, authInfo: [Id(scheme: "digest", id: "bob:x")]))
        #expect(AccessControl.check([ACL(perms: .read, id: bob)], .admin, authInfo: [.superUser]))
        #expect(AccessControl.check([ACL(perms: .read, id: Id(scheme: "ip", id: "10.0.0.0/8"))], .read, authInfo: [Id(scheme: "ip", id: "10.9.8.7")]))
        #expect(!AccessControl.check([ACL(perms: .read, id: Id(scheme: "ip", id: "10.0.0.0/8"))], .read, authInfo: [Id(scheme: "ip", id: "11.9.8.7")]))
    }
}

/// The x509 scheme: the shell passes the verified certificate subject in with the connection.
@Suite struct ServerCoreX509Tests {
    static let alice = "CN=alice,OU=eng,O=Paddock"
    static let configuration = CoreConfiguration(tickMs: 2000, x509Enabled: true, x509SuperUser: "CN=admin,O=Paddock")

    static func x509(_ name: String) -> [ACL] { [ACL(perms: .all, id: Id(scheme: "x509", id: name))] }

    @Test func subjectIsTheConnectionsX509IdAndGrantsItsACL() {
        var harness = CoreHarness(Self.configuration)
        harness.core.connectionOpened(1, address: CoreHarness.address, certificateSubject: Self.alice)
        _ = harness.connect(1)
        _ = harness.commit()
        #expect(harness.call(1, 1, create("/a", "x", acl: Self.x509(Self.alice))).reply(1, xid: 1)?.header.err == 0)
        harness.core.connectionOpened(2, address: CoreHarness.address, certificateSubject: "CN=bob,O=Paddock")
        _ = harness.connect(2)
        _ = harness.commit()
        #expect(harness.call(2, 2, .getData(path: "/a", watch: false)).reply(2, xid: 2)?.header.err == ErrorCode.noAuth.rawValue)
        harness.core.connectionOpened(3, address: CoreHarness.address, certificateSubject: "CN=admin,O=Paddock")
        _ = harness.connect(3)
        _ = harness.commit()
        #expect(harness.call(3, 3, .getData(path: "/a", watch: false)).reply(3, xid: 3)?.header.err == 0)
    }

    @Test func x509ACLsAreValidOnlyWithTheProviderAndAWellFormedName() {
        #expect(AccessControl.fixup(Self.x509(Self.alice), authInfo: [], x509Enabled: true) == Self.x509(Self.alice))
        #expect(AccessControl.fixup(Self.x509(Self.alice), authInfo: [], x509Enabled: false) == nil)
        #expect(AccessControl.fixup(Self.x509("alice"), authInfo: [], x509Enabled: true) == nil)
        #expect(AccessControl.fixup(Self.x509("FOO=bar"), authInfo: [], x509Enabled: true) == nil)
        #expect(AccessControl.fixup(Self.x509("1.2.840.113549.1.9.1=#160178,CN=a\\,b"), authInfo: [], x509Enabled: true) != nil)
        // `auth` expands to the x509 id, as to digest ids.
        let expanded = AccessControl.fixup(ACL.creatorAll, authInfo: [Id(scheme: "ip", id: "1.2.3.4"), Id(scheme: "x509", id: Self.alice)], x509Enabled: true)
        #expect(expanded == Self.x509(Self.alice))
    }

    @Test func withoutTheProviderASubjectAddsNothing() {
        var harness = CoreHarness()
        harness.core.connectionOpened(1, address: CoreHarness.address, certificateSubject: Self.alice)
        _ = harness.connect(1)
        _ = harness.commit()
        guard case .whoAmI(let infos)? = harness.call(1, 1, .whoAmI).reply(1, xid: 1)?.body else {
            Issue.record("expected WhoAmIResponse")
            return
        }
        #expect(infos.map(\.authScheme) == ["ip"])
    }
}
