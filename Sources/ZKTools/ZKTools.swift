// ZKTools: the offline tools for a Paddock data directory, as library functions that return
// structured reports (STYLE.md "What to absorb" 15). The `paddock data …` / `paddock snapshot …`
// commands only parse flags, print these reports and turn them into exit codes.
//
// | command                                   | library                                   |
// |-------------------------------------------|-------------------------------------------|
// | data status DIR                           | DataStatus.inspect                        |
// | data dump DIR|FILE [--from] [--to]        | LogDump.dumpDirectory / dumpRecordsFile   |
// | data verify DIR                           | DataVerify.verify                         |
// | data truncate DIR --after ZXID            | DataTruncate.plan / apply                 |
// | data repair DIR                           | DataRepair.plan / apply                   |
// | data replay DIR --to ZXID --out FILE      | DataReplay.replay                         |
// | data compact DIR                          | DataCompact.plan / apply                  |
// | data purge DIR --keep N                   | DataPurge.plan / apply                    |
// | snapshot dump FILE [--data]               | SnapshotDump.dump                         |
// | snapshot diff A B                         | SnapshotDiff.compare                      |
//
// Exit codes (ToolStatus): 0 healthy, 1 problems found (or a change declined), 2 usage or I/O
// error (including a data directory whose lock is held). Read-only commands open the LMDB log
// with MDB_RDONLY and take no lock, so they run next to a live server. Commands that change a
// data directory take `paddock.lock` first, show a plan, move what they remove into
// `<dataDir>/backup/<UTC time>-<command>/` (removed log records as a records file that `data
// dump` reads, snapshot files moved there), and fsync what they wrote before they change the log.
