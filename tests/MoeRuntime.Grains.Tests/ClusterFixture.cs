using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Security;
using MoeRuntime.Model;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;
using MoeRuntime.Security;
using MoeRuntime.Serving.Tiers;
using Orleans.TestingHost;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// An in-process Orleans cluster of <c>N</c> ranks serving the built-in model from a temp directory,
/// and the single-process reference generator over the same checkpoint to compare against.
/// </summary>
public abstract class ClusterFixture : IAsyncLifetime
{
    readonly int _ranks;
    readonly string _directory = Directory.CreateTempSubdirectory("moe-grains-").FullName;

    protected ClusterFixture(int ranks) => _ranks = ranks;

    public const string ModelName = "default";
    public InProcessTestCluster Cluster { get; private set; } = null!;
    public IClusterClient Client => Cluster.Client;
    public string ModelDirectory => _directory;
    public MoeModel Reference { get; private set; } = null!;
    public ITextTokenizer Tokenizer { get; private set; } = null!;

    /// <summary>Writes the checkpoint; a fixture may alter it before the silos start.</summary>
    protected virtual void PrepareModel(string directory) => DefaultModelWriter.Write(directory);

    protected virtual void Configure(MoeSiloOptions options)
    {
    }

    /// <summary>
    /// The role of the test client (a caller without proof) once the cluster is up: by default it acts as a silo's own
    /// code would, since these tests drive experts, aggregators and controllers directly; the role tests lower it.
    /// (While deploying it is internal: the test cluster's own hooks are Orleans-internal calls.)
    /// </summary>
    protected virtual MoeRole ClientRole => MoeRole.Internal;

    /// <summary>Runs after <see cref="MoeSiloBuilderExtensions.AddMoeRuntime"/>: a fixture may configure further services.</summary>
    protected virtual void ConfigureSilo(ISiloBuilder siloBuilder)
    {
    }

    /// <summary>Runs after the test client's own configuration: a fixture may add observers or options.</summary>
    protected virtual void ConfigureClient(IClientBuilder client)
    {
    }

    /// <summary>Configures each silo's host: a fixture may add configuration sources (a watched file).</summary>
    protected virtual void ConfigureSiloHost(Microsoft.Extensions.Hosting.IHostApplicationBuilder host)
    {
    }

    public async Task InitializeAsync()
    {
        PrepareModel(_directory);
        Reference = ModelLoader.Load(_directory, CPU);
        Tokenizer = TokenizerLoader.Load(_directory);
        var builder = new InProcessTestClusterBuilder((short)_ranks);
        builder.ConfigureSiloHost((_, host) => ConfigureSiloHost(host));
        builder.ConfigureSilo((silo, siloBuilder) => ConfigureSilo(siloBuilder.AddMemoryGrainStorage(ControlStorage.Name).AddMoeRuntime(o =>
        {
            o.Rank = int.Parse(silo.SiloName.Split('_')[1]);
            o.ModelPath = _directory;
            o.ModelName = ModelName;
            o.HotBudgetBytes = 24L << 20;
            o.WarmBudgetBytes = 64L << 20;
            o.DefaultTier = Tier.Warm;
            // The tests compare served logits with the reference's.
            o.Limits = o.Limits with { AllowLogitsCapture = true };
            Configure(o);
        }).ConfigureServices(s => s.AddOptions<MoeSecurityOptions>().Configure(o => o.AnonymousRole = "internal"))));
        builder.ConfigureClient(client => ConfigureClient(client.AddActivityPropagation()));
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        foreach (SiloHandle silo in Cluster.Silos)
            ((InProcessSiloHandle)silo).ServiceProvider.GetRequiredService<CallerAuthentication>().AnonymousRole = ClientRole;
    }

    /// <summary>What the reference generator produces for a prompt, with logits.</summary>
    public GenerationResult ReferenceRun(string prompt, SamplingOptions options) =>
        new ReferenceGenerator(Reference).Run([new GenerationRequest(Tokenizer.Encode(prompt), options) { CaptureLogits = true }])[0];

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Reference.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}

public sealed class OneRankFixture() : ClusterFixture(1);

public sealed class ThreeRankFixture() : ClusterFixture(3);

/// <summary>
/// Three ranks without hedged expert calls, for tests that count expert hits exactly: under a loaded machine a call can
/// outlast the hedge delay, and the hedge computes the same rows again on the router's rank (two hits, one on a rank
/// that does not own the expert), which is what hedging is for and not what these tests count.
/// </summary>
public sealed class UnhedgedThreeRankFixture() : ClusterFixture(3)
{
    protected override void Configure(MoeSiloOptions options) => options.ExpertCallHedgeAfter = TimeSpan.Zero;
}
