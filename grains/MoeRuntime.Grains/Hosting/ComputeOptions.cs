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
    /// <summary>
    /// The CPUs the batching loop runs on, as <c>taskset -c</c> writes them (<c>"0"</c>, <c>"2-3"</c>): the loop then has a
    /// thread of its own pinned to them. With one intra-op thread (<see cref="IntraOpThreads"/> 1) that thread does all
    /// of the step's tensor work. With more, libtorch's intra-op workers started by the loop inherit its CPUs, so give it
    /// as many CPUs as intra-op threads (the rank warns at start when it has fewer). Empty (the default) leaves the loop on
    /// the thread pool. Pin the loop to cores the rest of the process is kept off
    /// (<c>taskset -c 1 moe-silo … --Moe:Compute:LoopCpus=0</c>) and its forward passes keep their core's caches and never
    /// wait behind the rank's messaging, the way inference servers bind their compute threads.
    /// </summary>
    public string LoopCpus { get; set; } = "";

    /// <summary>The parsed <see cref="LoopCpus"/>; null when empty.</summary>
    /// <exception cref="FormatException">Not a CPU list.</exception>
    public IReadOnlyList<int>? LoopCpuList() => string.IsNullOrWhiteSpace(LoopCpus) ? null : Model.Threading.CpuList.Parse(LoopCpus);
}
