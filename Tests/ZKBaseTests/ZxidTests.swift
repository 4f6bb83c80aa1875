import Testing
import ZKBase

@Suite struct ZxidMathTests {
    @Test func epochAndCounter() {
        let zxid = ZxidMath.make(epoch: 3, counter: 7)
        #expect(zxid == 0x3_0000_0007)
        #expect(ZxidMath.epoch(zxid) == 3)
        #expect(ZxidMath.counter(zxid) == 7)
        #expect(ZxidMath.hex(zxid) == "0x300000007")
        #expect(ZxidMath.make(epoch: 1, counter: 0x1_0000_0001) == 0x1_0000_0001, "counter keeps only 32 bits")
    }
}

/// Values printed by ZooKeeper 3.8.0's `EphemeralType`.
@Suite struct EphemeralOwnerTests {
    @Test func ttlOwnerEncoding() {
        #expect(EphemeralOwner.ttl(1000) == -72_057_594_037_926_936)
        #expect(EphemeralOwner.isTTL(EphemeralOwner.ttl(1000)))
        #expect(EphemeralOwner.ttlValue(EphemeralOwner.ttl(1000)) == 1000)
        #expect(!EphemeralOwner.isSession(EphemeralOwner.ttl(1000)))
    }

    @Test func containerAndSessionOwners() {
        #expect(EphemeralOwner.container == Int64.min)
        #expect(!EphemeralOwner.isTTL(EphemeralOwner.container))
        #expect(!EphemeralOwner.isSession(EphemeralOwner.container))
        #expect(!EphemeralOwner.isSession(0))
        #expect(EphemeralOwner.isSession(0x1000))
    }

    @Test func ttlMaximumIsZooKeepers() {
        // EphemeralType.TTL.maxValue() == 1099511627775 (40 bits; 16 reserved bits sit below the 0xff byte).
        #expect(EphemeralOwner.ttlMaximum == 1_099_511_627_775)
        // The 16 bits under the 0xff byte name the extended type; non-zero is not a TTL.
        #expect(!EphemeralOwner.isTTL(EphemeralOwner.ttl(1000) | (1 << 40)))
    }
}
