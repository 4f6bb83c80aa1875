import CMalloc

/// glibc malloc settings the server process runs with.
public enum MallocTuning {
    /// Allocations of 1 MiB and more get their own mapping, returned to the system when freed.
    /// By default glibc raises that threshold up to 32 MiB each time such a block is freed (the
    /// node table's arrays grow past it early), after which every transient buffer below 32 MiB
    /// (a snapshot walk's child list of a wide parent, old hash-index tables, batch buffers) is
    /// carved from an arena that keeps its pages: with 1M znodes of 100 B that left 20-40 MiB of
    /// freed memory resident (`GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576` measured the
    /// same). Setting the threshold also turns the dynamic adjustment off.
    public static let mmapThresholdBytes: Int32 = 1 << 20

    /// Call once at startup, before any other thread exists.
    public static func apply() {
        _ = mallopt(M_MMAP_THRESHOLD, mmapThresholdBytes)
    }
}
