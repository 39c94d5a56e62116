#if canImport(Glibc)
import Glibc
#endif
import CFuzzDriver

// KAFKA_FUZZ_SEED_DIR=<dir>: write every target's seed corpus there and exit.
// Otherwise run libFuzzer on the target named by KAFKA_FUZZ_TARGET, with the usual libFuzzer
// arguments (corpus directories, -max_total_time=..., a crash file to reproduce it).
if let dir = getenv("KAFKA_FUZZ_SEED_DIR").map({ String(cString: $0) }) {
    Seeds.write(to: dir)
    exit(0)
}
guard let name = getenv("KAFKA_FUZZ_TARGET").map({ String(cString: $0) }), let target = targets[name] else {
    eprint("KafkaFuzz: set KAFKA_FUZZ_TARGET to one of: \(targets.keys.sorted().joined(separator: ", "))")
    exit(2)
}
selected = target
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzerTestOneInput(data, size) })
