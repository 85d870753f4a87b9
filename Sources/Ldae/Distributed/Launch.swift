import Foundation

/// How this process was started: by an MPI launcher (Open MPI's mpirun, or srun / another launcher through PMI or
/// PMIx) or on its own. Only a process started by a launcher initialises MPI; on its own it is a world of one
/// and never touches the MPI library, so one-machine use (and the test runner) is exactly as without MPI.
///
/// Detected from the environment the launchers set:
/// - `OMPI_COMM_WORLD_SIZE` (Open MPI's mpirun), `PMIX_RANK` (PMIx: srun --mpi=pmix, Open MPI 5), `PMI_SIZE` /
///   `PMI_RANK` (PMI-1/PMI-2: srun --mpi=pmi2, MPICH's hydra);
/// - `LDAE_MPI=off` forces a world of one even under a launcher (a helper process started by a rank);
///   `LDAE_MPI=on` initialises MPI whatever the environment (an Open MPI singleton when run alone).
/// A Slurm step of several tasks with none of the PMI variables (`srun` without an MPI plugin) is refused: each
/// task would train alone and all would write the same run folder.
public struct LaunchEnvironment: Equatable, Sendable {
    /// Whether to initialise MPI.
    public var usesMPI: Bool
    /// What started us, for messages ("mpirun", "srun (PMIx)", ...; "none" alone).
    public var launcher: String
    /// The number of processes the launcher announced, when it says (checked against MPI's own count).
    public var announcedSize: Int?

    public static let alone = LaunchEnvironment(usesMPI: false, launcher: "none", announcedSize: nil)

    public static func detect(_ env: [String: String]) throws -> LaunchEnvironment {
        switch env["LDAE_MPI"]?.lowercased() {
        case "off", "0", "no": return .alone
        case "on", "1", "yes": return LaunchEnvironment(usesMPI: true, launcher: "LDAE_MPI=on", announcedSize: nil)
        case nil, "", "auto": break
        case let v?: throw LdaeError("LDAE_MPI must be on, off or auto, got '\(v)'")
        }
        if let s = env["OMPI_COMM_WORLD_SIZE"] {
            return LaunchEnvironment(usesMPI: true, launcher: "mpirun", announcedSize: Int(s))
        }
        let slurm = env["SLURM_STEP_NUM_TASKS"] != nil
        if env["PMIX_RANK"] != nil {
            return LaunchEnvironment(usesMPI: true, launcher: slurm ? "srun (PMIx)" : "PMIx", announcedSize: nil)
        }
        if env["PMI_SIZE"] != nil || env["PMI_RANK"] != nil {
            return LaunchEnvironment(usesMPI: true, launcher: slurm ? "srun (PMI)" : "PMI", announcedSize: env["PMI_SIZE"].flatMap { Int($0) })
        }
        if let n = env["SLURM_STEP_NUM_TASKS"].flatMap({ Int($0) }), n > 1 {
            throw LdaeError("srun started \(n) tasks but no MPI process-manager interface is visible (PMI_RANK, PMIX_RANK unset): run it as srun --mpi=pmix (or --mpi=pmi2), or under mpirun")
        }
        return .alone
    }
}
