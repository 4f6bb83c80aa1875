import CLMDB
import Glibc

extension LMDBEnvironment {
    /// Like ZooKeeper's FilePadding: keeps data.mdb allocated ahead of the pages LMDB has used,
    /// so the file grows in large steps rather than a page per commit. posix_fallocate reserves the
    /// blocks without writing them (the zeros ZooKeeper's padding writes would double the bytes
    /// the device takes); the next commit's flush carries the extent change. Called between
    /// commits by whichever thread commits (the checkpointer, when the journal is on: off the
    /// acknowledgement path); never extends the file beyond the map size.
    func preallocateAhead() {
        clearStaleReaders()
        let preallocationBytes = configuration.preallocationBytes
        guard !configuration.readOnly, preallocationBytes > 0 else { return }
        var info = MDB_envinfo()
        var statistics = MDB_stat()
        guard mdb_env_info(environment, &info) == 0, mdb_env_stat(environment, &statistics) == 0 else { return }
        let used = (Int(info.me_last_pgno) + 1) * Int(statistics.ms_psize)
        if used - mappedPagesReleasedBelow >= preallocationBytes / 2 {
            releaseMappedPages(info, usedBytes: used)
            mappedPagesReleasedBelow = used
        }
        let size = fileSizeBytes
        guard size - used < preallocationBytes / 2 else { return }
        let target = min(used + preallocationBytes, info.me_mapsize)
        guard target > size else { return }
        var descriptor: Int32 = -1
        guard mdb_env_get_fd(environment, &descriptor) == 0, descriptor >= 0 else { return }
        // A full disk or a file system without fallocate: LMDB grows the file itself.
        _ = posix_fallocate(descriptor, off_t(size), off_t(target - size))
    }

    /// Drops this process's page-table entries for the map below the high-water mark. LMDB
    /// writes with pwrite and reads through the map, and every page appended to is read back
    /// once (then kernel fault-around maps its neighbours), so without this the whole log ends
    /// up counted in the server's RSS although it is only clean page cache. The mapping is a
    /// shared, read-only file mapping: MADV_DONTNEED loses nothing, a later read faults the page
    /// back in from the page cache. Called by the writer thread (every 8 MiB of log growth), the
    /// only one that remaps.
    private func releaseMappedPages(_ info: MDB_envinfo, usedBytes: Int) {
        // LMDB reports the map address only for MDB_FIXEDMAP; the kernel's list of mappings has it.
        guard let (address, mappedBytes) = Self.sharedMapping(ofFile: path + "/data.mdb") else { return }
        let length = min(usedBytes, mappedBytes) / pageBytes * pageBytes
        guard length > 0 else { return }
        _ = madvise(address, length, MADV_DONTNEED)
    }

    /// Start and length of this process's read-only shared mapping of `file`, from /proc/self/maps.
    static func sharedMapping(ofFile file: String) -> (UnsafeMutableRawPointer, Int)? {
        guard let target = resolvedPath(file) else { return nil }
        for text in procFileLines("/proc/self/maps") {
            // "start-end perms offset dev inode   /path" (the path is padded with spaces)
            let fields = text.split(separator: " ", maxSplits: 2)
            guard fields.count == 3, fields[1] == "r--s", let slash = text.firstIndex(of: "/"), text[slash...] == target
            else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start,
                  let address = UnsafeMutableRawPointer(bitPattern: start)
            else { continue }
            return (address, Int(end - start))
        }
        return nil
    }

    /// `path` with symlinks resolved (how /proc lists mapped files); nil when it does not exist.
    static func resolvedPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The lines of a /proc file without their newlines. /proc files report size 0, so they are
    /// read line by line rather than by their size.
    static func procFileLines(_ path: String) -> [String] {
        guard let file = fopen(path, "r") else { return [] }
        defer { fclose(file) }
        var buffer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(buffer) }
        var lines: [String] = []
        while getline(&buffer, &capacity, file) > 0, let buffer {
            var line = String(cString: buffer)
            if line.last == "\n" { line.removeLast() }
            lines.append(line)
        }
        return lines
    }
}
