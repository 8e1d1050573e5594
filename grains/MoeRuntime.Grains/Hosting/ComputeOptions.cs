namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// The rank's libtorch thread pools (section <c>Moe:Compute</c>), applied once when the rank loads its model, before any
/// tensor work (<see cref="ComputeThreads"/>). libtorch sizes its intra-op pool to the machine's cores by default, so
/// several ranks on one machine each run a full pool on the same cores; giving each rank its share (cores / ranks) keeps
/// them from oversubscribing. Changing either needs a restart of the rank.
/// </summary>
public sealed class ComputeOptions
{
    /// <summary>The most threads either pool may be given: far above any core count a rank runs on, below a typo.</summary>
    public const int MaxThreads = 256;

    /// <summary>Threads one tensor operation (a matmul, an attention) may use (<c>torch.set_num_threads</c>); 0 keeps libtorch's default (the cores it sees).</summary>
    public int IntraOpThreads { get; set; }
    /// <summary>
    /// Threads of libtorch's inter-op pool (<c>torch.set_num_interop_threads</c>; used by asynchronous libtorch work, not by
    /// the runtime's eager operations); 0 keeps libtorch's default. libtorch takes it once per process.
    /// </summary>
    public int InterOpThreads { get; set; }
}
