using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Model.Threading;

namespace MoeRuntime.Grains.Tests;

/// <summary>A rank whose batching loop is pinned (<c>Moe:Compute:LoopCpus</c>) to the last CPU this process may use.</summary>
public sealed class PinnedLoopFixture() : ClusterFixture(1)
{
    public static int Cpu { get; } = OperatingSystem.IsLinux() ? CpuList.OfCurrentThread()[^1] : 0;

    protected override void Configure(MoeSiloOptions options)
    {
        options.Control.Enabled = false;
        if (OperatingSystem.IsLinux()) options.Compute.LoopCpus = Cpu.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

public sealed class PinnedLoopTests(PinnedLoopFixture fixture) : IClassFixture<PinnedLoopFixture>
{
    [Fact]
    public async Task ARankWithLoopCpusServesFromALoopThreadPinnedToThem()
    {
        if (!OperatingSystem.IsLinux()) return;
        IRouterGrain router = fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);
        GenerateResponse response = await router.GenerateAsync(new GenerateRequest
        {
            Prompt = "pinned", Sampling = SamplingParameters.Greedy(6) with { StopTokenIds = [] },
        });
        Assert.Equal(6, response.TokenIds.Length);
        Assert.True(fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<RouterRuntime>().Readiness().Ready);

        // The kernel's own view of the process's threads: the loop's is there, named, and allowed only the configured CPU.
        string[] loops = Directory.GetDirectories("/proc/self/task")
            .Where(t => File.Exists(Path.Combine(t, "comm")) && File.ReadAllText(Path.Combine(t, "comm")).Trim() == "moe-batch-loop")
            .ToArray();
        // Native threads the loop starts (libtorch's intra-op workers, when the loop is the first to need them) inherit its
        // name and its CPUs, so there may be more than one; every one is on the configured CPU.
        Assert.NotEmpty(loops);
        Assert.All(loops, loop => Assert.Equal(PinnedLoopFixture.Cpu.ToString(System.Globalization.CultureInfo.InvariantCulture),
            File.ReadAllLines(Path.Combine(loop, "status")).Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split(':')[1].Trim()));
    }
}
