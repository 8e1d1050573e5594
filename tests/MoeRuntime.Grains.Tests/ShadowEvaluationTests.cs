using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Telemetry.Aggregation;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// Shadow evaluation on live requests, end to end: every finished request (Share 1) is scored by the primary and the
/// candidate on the rank's background worker, the cluster view sums the agreement and judges it with the configured gate,
/// and the client gets exactly the reference's tokens and logits either way.
/// </summary>
public static class ShadowEvaluationTests
{
    static readonly string[] Prompts =
    [
        "The quick brown fox jumps over the lazy dog.",
        "Once upon a time there was a cluster of silos.",
        "A mixture of experts sends each word to two specialists.",
        "When the evening came the operators went home.",
        "0123456789 4821 9932 1177 3.14159 2.71828",
        "Shadow evaluation never reaches the client.",
    ];
    const int MaxTokens = 12;

    /// <summary>Serves every prompt, checks each answer against the reference, then waits for all of them to be scored.</summary>
    static async Task<ShadowStatus> ServeAndScoreAsync(ClusterFixture fixture, ITestOutputHelper output)
    {
        var router = fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);
        foreach (string prompt in Prompts)
        {
            GenerateResponse served = await router.GenerateAsync(ServingAssertions.GreedyWithLogits(prompt, MaxTokens));
            ServingAssertions.MatchesReference(fixture.ReferenceRun(prompt, SamplingOptions.Greedy with { MaxTokens = MaxTokens, StopTokenIds = [] }), served);
        }
        // Ranks report every second; the worker scores one request at a time on a shared machine: bounded at 60 s.
        TelemetryView view = await Eventually.PollAsync(() => Views.ClusterAsync(fixture.Client),
            v => v.Shadow is { } s && s.Scored + s.Failed + s.Dropped >= Prompts.Length, 240, TimeSpan.FromMilliseconds(250));
        ShadowStatus shadow = Assert.IsType<ShadowStatus>(view.Shadow);
        output.WriteLine($"scored {shadow.Scored} dropped {shadow.Dropped} failed {shadow.Failed}; {shadow.Tokens} tokens, greedy {shadow.GreedyAgreement:P2}, "
            + $"divergence {shadow.MeanLogProbDivergence:F5}, routing {string.Join(" ", shadow.RoutingAgreementPerLayer.Select(r => r.ToString("P1")))}, "
            + $"latency ratio {shadow.LatencyRatio:F2}; refusals: {string.Join("; ", shadow.Refusals ?? [])}");
        Assert.Equal(Prompts.Length, shadow.Scored);
        Assert.Equal(0, shadow.Dropped + shadow.Failed);
        Assert.Equal(Prompts.Length * MaxTokens, shadow.Tokens);
        Assert.True(shadow.PrimarySeconds > 0 && shadow.CandidateSeconds > 0);
        return shadow;
    }

    /// <summary>Shadowing every request with a gate whose latency bound a loaded test machine cannot break.</summary>
    public abstract class ShadowFixture(int ranks) : ClusterFixture(ranks)
    {
        protected abstract string Candidate { get; }

        protected override void Configure(MoeSiloOptions options)
        {
            options.Shadow.CandidatePath = Candidate;
            options.Shadow.Share = 1;
            options.Shadow.MaxQueue = 64;
            options.Shadow.Gate = new ShadowGate { MaxLatencyRatio = 100 };
        }
    }

    /// <summary>The candidate is the primary's own checkpoint.</summary>
    public sealed class SameFixture() : ShadowFixture(2)
    {
        protected override string Candidate => ModelDirectory;
    }

    /// <summary>The candidate is the primary's weights plus uniform noise of ±0.3 on every tensor, written beside it.</summary>
    public sealed class PerturbedFixture() : ShadowFixture(1), IAsyncLifetime
    {
        readonly string _candidate = Directory.CreateTempSubdirectory("moe-shadow-candidate-").FullName;

        protected override string Candidate => _candidate;

        protected override void PrepareModel(string directory)
        {
            base.PrepareModel(directory);
            var recipe = new DefaultModelRecipe();
            using InMemoryTensorSource weights = DefaultModelWeights.Generate(recipe);
            // Explicit temporaries, no dispose scope and no implicit scalars: nothing here can free a handle other code holds.
            using var noise = new Generator(7);
            foreach (Tensor tensor in weights.Tensors.Values)
            {
                using Tensor uniform = empty(tensor.shape, ScalarType.Float32).uniform_(-0.3, 0.3, noise);
                using Tensor cast = uniform.to(tensor.dtype);
                tensor.add_(cast);
            }
            SafetensorsWriter.WriteSharded(_candidate, weights.Tensors, recipe.MaxShardBytes);
            ModelConfigJson.Save(recipe.Config, _candidate);
            CheckpointManifest.Write(_candidate);
        }

        async Task IAsyncLifetime.DisposeAsync()
        {
            await DisposeAsync();
            Directory.Delete(_candidate, recursive: true);
        }
    }

    public sealed class Same(SameFixture fixture, ITestOutputHelper output) : IClassFixture<SameFixture>
    {
        [Fact]
        public async Task A_candidate_equal_to_the_primary_agrees_on_every_token_and_the_gate_passes_it()
        {
            ShadowStatus shadow = await ServeAndScoreAsync(fixture, output);
            Assert.Equal(1.0, shadow.GreedyAgreement);
            Assert.True(shadow.MeanLogProbDivergence < 1e-5, $"divergence {shadow.MeanLogProbDivergence}");
            Assert.All(shadow.RoutingAgreementPerLayer, r => Assert.Equal(1.0, r));
            Assert.Equal(fixture.Reference.Config.LayerCount, shadow.RoutingAgreementPerLayer.Count);
            Assert.NotNull(shadow.Refusals);
            Assert.Empty(shadow.Refusals);
            // What `moe model shadow` applies to the same sums.
            Assert.Empty(new ShadowGate { MaxLatencyRatio = 100 }.Refusals(ShadowView.Agreement(shadow)));
        }
    }

    public sealed class Perturbed(PerturbedFixture fixture, ITestOutputHelper output) : IClassFixture<PerturbedFixture>
    {
        [Fact]
        public async Task A_perturbed_candidate_is_refused_while_the_client_still_gets_the_primarys_answer()
        {
            ShadowStatus shadow = await ServeAndScoreAsync(fixture, output);
            Assert.True(shadow.GreedyAgreement < 0.98, $"greedy agreement {shadow.GreedyAgreement}");
            Assert.True(shadow.MeanLogProbDivergence > 0.05, $"divergence {shadow.MeanLogProbDivergence}");
            Assert.NotNull(shadow.Refusals);
            Assert.Contains(shadow.Refusals, r => r.StartsWith("greedy agreement", StringComparison.Ordinal));
            Assert.Contains(shadow.Refusals, r => r.StartsWith("mean log-prob divergence", StringComparison.Ordinal));
        }
    }
}
