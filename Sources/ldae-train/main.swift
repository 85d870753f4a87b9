import Foundation
import Ldae

// ldae-train: l-DAE pretraining (Train.swift), or the speed benchmark (`ldae-train bench`, Bench.swift).

let argv = Array(CommandLine.arguments.dropFirst())
if argv.first == "bench" {
    runCommand("ldae-train bench") { try runBench(Array(argv.dropFirst())) }
}
runDistributedCommand("ldae-train", environment: ProcessInfo.processInfo.environment) { world in try runTrain(argv, world: world) }   // a world of one unless mpirun / srun started it
