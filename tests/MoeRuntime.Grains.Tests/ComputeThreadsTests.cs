using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Model.DefaultModel;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// <c>Moe:Compute</c> reaches libtorch: a rank's host, bound from configuration like the silo's, sizes the process's pools
/// when it loads its model. Out-of-range values are refused at start-up (<see cref="SiloOptionsTests"/>).
/// </summary>
public sealed class ComputeThreadsTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("moe-compute-").FullName;
    readonly int _threadsBefore = get_num_threads();

    [Fact]
    public void TheConfiguredIntraOpThreadsAreWhatLibtorchRunsWithOnceTheRankLoads()
    {
        DefaultModelWriter.Write(_directory);
        // Not libtorch's current count, so the assertion can only pass if the host applied it.
        int wanted = _threadsBefore == 1 ? 2 : 1;
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Moe:ModelPath"] = _directory,
            ["Moe:Compute:IntraOpThreads"] = wanted.ToString(),
        }).Build();
        using ServiceProvider services = new ServiceCollection().AddLogging().AddMoeOptions(configuration).AddSingleton<ModelHost>().BuildServiceProvider();

        using ModelHost host = services.GetRequiredService<ModelHost>();

        Assert.Equal(wanted, get_num_threads());
        Assert.Equal(wanted, host.ComputeThreads.IntraOpThreads);
        Assert.Equal(Environment.ProcessorCount, host.ComputeThreads.Processors);
    }

    [Fact]
    public void ZeroLeavesLibtorchsCountAsItIs()
    {
        ComputeThreadCounts counts = ComputeThreads.Apply(new ComputeOptions(), 0, NullLogger.Instance);

        Assert.Equal(_threadsBefore, get_num_threads());
        Assert.Equal(_threadsBefore, counts.IntraOpThreads);
    }

    [Fact]
    public void TheInterOpThreadsAreTakenOncePerProcessAndALaterDifferentValueIsKeptOutWithAWarning()
    {
        // libtorch refuses a second inter-op count from native code; the first one asked for in this process stays.
        ComputeThreadCounts first = ComputeThreads.Apply(new ComputeOptions { InterOpThreads = 2 }, 0, NullLogger.Instance);
        var log = new ListLogger();
        ComputeThreadCounts second = ComputeThreads.Apply(new ComputeOptions { InterOpThreads = 3 }, 1, log);

        Assert.Equal(2, first.InterOpThreads);
        Assert.Equal(2, second.InterOpThreads);
        Assert.Equal(2, get_num_interop_threads());
        Assert.Contains(log.Lines, l => l.Contains("Moe:Compute:InterOpThreads 3 not applied", StringComparison.Ordinal));
    }

    [Fact]
    public void APinnedLoopWithFewerCpusThanIntraOpThreadsIsWarnedAboutAndOneWithEnoughIsLogged()
    {
        var crowded = new ListLogger();
        ComputeThreads.Apply(new ComputeOptions { IntraOpThreads = 2, LoopCpus = "0" }, 0, crowded);
        var roomy = new ListLogger();
        ComputeThreads.Apply(new ComputeOptions { IntraOpThreads = 2, LoopCpus = "0-1" }, 0, roomy);

        Assert.Contains(crowded.Lines, l => l.Contains("pinned to CPUs 0 (1) but libtorch runs 2 intra-op threads", StringComparison.Ordinal));
        Assert.DoesNotContain(roomy.Lines, l => l.Contains("intra-op threads: the workers", StringComparison.Ordinal));
        Assert.Contains(roomy.Lines, l => l.Contains("runs on a thread of its own pinned to CPUs 0-1", StringComparison.Ordinal));
    }

    public void Dispose()
    {
        set_num_threads(_threadsBefore);
        Directory.Delete(_directory, recursive: true);
    }

    sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }
}
