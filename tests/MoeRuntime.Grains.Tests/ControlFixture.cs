using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Control.Latency;
using MoeRuntime.Control.Planning;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Prefetch;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// One rank whose experts start cold, with a hot budget of half the model's experts, and tier controllers driven by
/// <see cref="ITierControllerGrain.TickAsync"/> (the timers' interval is an hour, so every interval is the test's).
/// Latency targets are far below anything measurable: the latency controller always wants its whole hot budget.
/// </summary>
public class ControlFixture : ClusterFixture
{
    public ControlFixture()
        : this(1)
    {
    }

    /// <summary>The same on <paramref name="ranks"/> ranks (the canary tests need one to compare with).</summary>
    protected ControlFixture(int ranks)
        : base(ranks)
    {
    }

    public const int Experts = 4 * 8;

    /// <summary>Hot bytes of one expert of the built-in model (they are all the same size).</summary>
    public long ExpertHotBytes { get; private set; }

    public long HotBudget => Experts / 2 * ExpertHotBytes;

    protected override void Configure(MoeSiloOptions options)
    {
        using (var checkpoint = ExpertCheckpoint.Open(ModelDirectory, ModelName))
            ExpertHotBytes = checkpoint.Locate(new ExpertKey(ModelName, 0, 0)).HotBytes;
        options.DefaultTier = Tier.Cold;
        options.HotBudgetBytes = HotBudget;
        options.Control.Interval = TimeSpan.FromHours(1);
        options.Control.Latency = ConfigureLatency(options.Control.Latency);
    }

    // The prefetch controller's timer too is left to the tests: its decisions would otherwise join the log mid-test.
    protected override void ConfigureSilo(ISiloBuilder siloBuilder) =>
        siloBuilder.Services.Configure<PrefetchControlOptions>(o => o.Interval = TimeSpan.FromHours(1));

    /// <summary>Targets far below anything measurable: every measured interval is over target.</summary>
    protected virtual LatencyControllerOptions ConfigureLatency(LatencyControllerOptions latency) =>
        latency with { TargetP95InterTokenSeconds = 1e-6, TargetP95TimeToFirstTokenSeconds = 1e-6 };

    /// <summary>
    /// Waits until the cluster view the controllers read (20 s window) carries a p95 latency: ranks ship summaries every
    /// second, and on two busy cores an interval run right after a round can otherwise find none and hold.
    /// </summary>
    public Task WaitForLatencyAsync() =>
        Eventually.Async(() => Views.ClusterAsync(Client, "20s"), view => TelemetryReadings.Latency(view) != ObservedLatency.None);

    public IRouterGrain Router => Client.GetGrain<IRouterGrain>(ModelName);
    public ITierControllerGrain Controller => Client.GetGrain<ITierControllerGrain>(ModelName);
    public ITierSetGrain TierSet => Client.GetGrain<ITierSetGrain>($"{ModelName}/0");
    public IControlDecisionLogGrain Log => Client.GetGrain<IControlDecisionLogGrain>(ModelName);

    static readonly string[] Prompts =
        ["The experts", "Mixture of experts, in tiers", "aaaaaaaaaaaa", "0123456789", "zzz yyy xxx", "Control loops close", "hot, warm or cold?", "Orleans grains"];

    readonly Dictionary<string, Model.Generation.GenerationResult> _expected = [];

    /// <summary>Serves a round of greedy requests concurrently and checks each against the reference generator.</summary>
    public async Task ServeRoundAsync(int round, int requests = 4)
    {
        string[] prompts = Enumerable.Range(0, requests).Select(i => Prompts[(round * requests + i) % Prompts.Length]).ToArray();
        GenerateResponse[] answers = await Task.WhenAll(prompts.Select(p => Router.GenerateAsync(new GenerateRequest
        {
            Prompt = p,
            Sampling = SamplingParameters.Greedy(10) with { StopTokenIds = [] },
            IncludeLogits = true,
        })));
        for (int i = 0; i < prompts.Length; i++)
        {
            lock (_expected)
                if (!_expected.ContainsKey(prompts[i]))
                    _expected[prompts[i]] = ReferenceRun(prompts[i], SamplingOptions.Greedy with { MaxTokens = 10, StopTokenIds = [] });
            ServingAssertions.MatchesReference(_expected[prompts[i]], answers[i]);
        }
    }
}
