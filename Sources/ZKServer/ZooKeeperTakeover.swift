#if canImport(Glibc)
import Glibc
#endif
import Logging
import ZKConfig
import ZKStorage
import ZKTools

/// A server started on an Apache ZooKeeper member's dataDir, with that member's zoo.cfg, takes
/// the member's place: before anything else opens the directory, ZooKeeper's snapshot and log
/// (`version-2/`, and `dataLogDir/version-2/`) become Paddock's snapshot and log in the same
/// dataDir, with its `acceptedEpoch`, `currentEpoch` and `myid` (`ZooKeeperImport`, in place).
/// ZooKeeper's files are left as they were. Runs once: afterwards the directory has
/// `paddock-version` and is Paddock's.
enum ZooKeeperTakeover {
    static func importIfZooKeeperData(_ configuration: ServerConfiguration, logger: Logger) throws {
        let dataDirectory = configuration.dataDirectory
        let logRoot = configuration.configuredDataLogDirectory
        guard !fileExists(dataDirectory + "/" + DataDirectory.versionFileName) else { return }
        let versionName = DataDirectory.zooKeeperVersionDirectoryName
        let holdsZooKeeperFiles = [dataDirectory, logRoot].compactMap { $0 }.contains { root in
            let directory = root + "/" + versionName
            return !ZooKeeperFiles.snapshots(in: directory).isEmpty || !ZooKeeperFiles.logs(in: directory).isEmpty
        }
        guard holdsZooKeeperFiles else { return }
        logger.notice("\(dataDirectory) is an Apache ZooKeeper data directory: importing its snapshot, log, epochs and myid")
        var options = ZooKeeperImportOptions(
            zookeeperDirectory: dataDirectory + "/" + versionName,
            zookeeperLogDirectory: logRoot.map { $0 + "/" + versionName },
            dataDirectory: dataDirectory, dataLogDirectory: logRoot)
        options.inPlace = true
        let report: ZooKeeperImportReport
        do {
            report = try ZooKeeperImport.run(options)
        } catch {
            throw StartupError(description: "importing the Apache ZooKeeper data in \(dataDirectory): \(error) (run `paddock data import-zk` by hand to see the whole report)")
        }
        let epochs = report.acceptedEpoch.map { "acceptedEpoch \($0), currentEpoch \(report.currentEpoch ?? $0)" } ?? "no epoch files (a standalone server's data)"
        logger.notice("imported \(report.znodes) znodes and \(report.sessions) sessions through zxid 0x\(String(UInt64(bitPattern: report.lastZxid), radix: 16)) from \(report.snapshotUsed ?? "no snapshot") and \(report.logFilesRead.count) log files; \(report.txnsLogged) txns after the committed zxid 0x\(String(UInt64(bitPattern: report.committedZxid), radix: 16)) kept as log records; \(epochs); \(report.digestsChecked) digest checks passed (\(report.elapsedMs) ms)")
    }

    private static func fileExists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }
}
