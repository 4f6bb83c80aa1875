import CLMDB
import Glibc

extension LMDBEnvironment {
    /// Zero-filled bytes kept ahead of LMDB's high-water mark in data.mdb.
    static let preallocationBytes = 16 << 20

    /// Like ZooKeeper's FilePadding: keeps data.mdb written with zeros ahead of the pages LMDB
    /// has used, so a commit writes into blocks that already exist and its fdatasync has no file
    /// size (metadata) to push through the file system's journal. Called by the writer thread
    /// between commits; never extends the file beyond the map size.
    func preallocateAhead() {
        guard !configuration.readOnly else { return }
        var info = MDB_envinfo()
        var statistics = MDB_stat()
        guard mdb_env_info(environment, &info) == 0, mdb_env_stat(environment, &statistics) == 0 else { return }
        let used = (Int(info.me_last_pgno) + 1) * Int(statistics.ms_psize)
        let size = fileSizeBytes
        guard size - used < Self.preallocationBytes / 2 else { return }
        let target = min(used + Self.preallocationBytes, info.me_mapsize)
        guard target > size else { return }
        var descriptor: Int32 = -1
        guard mdb_env_get_fd(environment, &descriptor) == 0, descriptor >= 0 else { return }
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset = size
        while offset < target {
            let count = min(chunk.count, target - offset)
            let written = chunk.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, count, off_t(offset)) }
            guard written > 0 else { return }  // a full disk: LMDB reports it on the next commit
            offset += written
        }
        _ = fdatasync(descriptor)
    }
}
