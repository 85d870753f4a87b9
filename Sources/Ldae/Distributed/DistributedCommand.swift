import Foundation

/// `runCommand` for a command that may run as one rank of an MPI job (`ldae-train`); `environment` is the
/// process's, which says whether a launcher started it (`LaunchEnvironment`). Started without a launcher
/// it is exactly `runCommand` with a world of one. Under mpirun / srun (`LaunchEnvironment`) every error still ends
/// the job with one line (see `AgreedError`):
/// - setup errors: printed by the lowest failing rank (once, by rank 0, when every rank fails alike), every rank
///   exits with that status (2 for usage errors, 1 otherwise);
/// - errors every rank reaches together after setup (`AgreedError`): printed by rank 0, every rank exits 1;
/// - a rank failing alone after setup: `<tool>: error: rank r of n (host): <reason>`, then MPI_Abort ends the job
///   (mpirun / srun add their own lines about the aborted job).
/// Ranks other than 0 print nothing else. The body ends the process through `world.finish` or by returning.
public func runDistributedCommand(_ tool: String, environment: [String: String], _ body: (any Communicator) throws -> Void) -> Never {
    let world: any Communicator
    do { world = try MPICommunicator.world(try LaunchEnvironment.detect(environment)) } catch { exit(reportError(tool, error)) }
    guard world is MPICommunicator else { runCommand(tool) { try body(world) } }
    func say(_ e: Error, rankLabel: Bool) { reportError(tool, e, who: rankLabel ? "\(world.label): " : "") }
    do {
        try body(world)
        world.finish(0)
    } catch {
        var e = error
        if !world.settled {
            // setup failed here before the first collective: take part in it, reporting the error
            do { try world.settle(e) } catch let s { e = s }
        }
        switch e {
        case let p as PeerFailure:
            world.finish(p.status)
        case let r as ReportedFailure:
            say(r.inner, rankLabel: world.rank != 0 && !(r.inner is UsageError))
            world.finish(r.status)
        case let a as AgreedError:
            if world.isRoot { say(a.inner, rankLabel: false) }
            world.finish(errorStatus(a.inner))
        default:
            say(e, rankLabel: true)
            world.abort(1)
        }
    }
}
