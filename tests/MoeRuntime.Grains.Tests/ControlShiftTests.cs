using MoeRuntime.Control.Latency;
using MoeRuntime.Model.Sampling;
using Xunit.Abstractions;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// The control loop when the prompt mix shifts: prose first, then numbers and code, which the built-in
/// model routes partly to other experts. The experts the new mix made popular must be hot within a
/// bounded number of intervals, with every output still the reference generator's and the hot tier
/// within its budget throughout.
/// </summary>
public sealed class ControlShiftTests(ControlShiftTests.RankingFixture fixture, ITestOutputHelper output) : IClassFixture<ControlShiftTests.RankingFixture>
{
    /// <summary>
    /// The transient-yield rule off: this test pins how fast the demand ranking follows a shift, with a plan that fills
    /// its hot budget; with the rule the plan rightly leaves slots to transient copies when those earn more.
    /// </summary>
    public sealed class RankingFixture : ControlFixture
    {
        protected override LatencyControllerOptions ConfigureLatency(LatencyControllerOptions latency) =>
            base.ConfigureLatency(latency) with { TransientYield = false };
    }

    const int IntervalsPerPhase = 6;
    /// <summary>The bound: intervals of the new mix after which its popular experts are all hot.</summary>
    const int ReadaptWithin = 4;
    const int Tokens = 12;
    /// <summary>Experts at the bottom of the new mix's ranking that need not follow: their uses are within hysteresis of the incumbents'.</summary>
    const int BoundaryMargin = 3;


    [Fact]
    public async Task When_the_prompt_mix_shifts_the_newly_popular_experts_are_hot_within_a_bounded_number_of_intervals()
    {
        for (int i = 0; i < IntervalsPerPhase; i++) await IntervalAsync(WorkloadMixes.Prose, "prose", i);
        HashSet<string> hotAfterProse = Hot(await fixture.TierSet.GetAsync());
        Dictionary<string, long> usesBefore = Uses(await fixture.TierSet.GetControlStateAsync());

        var hotPerInterval = new List<HashSet<string>>();
        for (int i = 0; i < IntervalsPerPhase; i++) hotPerInterval.Add(await IntervalAsync(WorkloadMixes.Numbers, "numbers", i));
        Dictionary<string, long> usesAfter = Uses(await fixture.TierSet.GetControlStateAsync());

        // Newly popular: among the new mix's most used experts (as many as the hot set holds, less a margin for
        // near-ties at the boundary, which hysteresis rightly leaves alone) and not hot after the prose.
        Dictionary<string, long> used = usesAfter.ToDictionary(u => u.Key, u => u.Value - usesBefore.GetValueOrDefault(u.Key));
        string[] newlyPopular = used.OrderByDescending(u => u.Value).ThenBy(u => u.Key).Take(hotAfterProse.Count - BoundaryMargin)
            .Select(u => u.Key).Where(e => !hotAfterProse.Contains(e)).ToArray();
        output.WriteLine($"uses under the new mix (* hot after prose): {string.Join(", ", used.OrderByDescending(u => u.Value).Select(u => $"{u.Key}:{u.Value}{(hotAfterProse.Contains(u.Key) ? "*" : "")}"))}");
        output.WriteLine($"newly popular: {string.Join(", ", newlyPopular)}");
        Assert.NotEmpty(newlyPopular); // otherwise the mix did not shift and the test proves nothing
        int followed = hotPerInterval.FindIndex(hot => newlyPopular.All(hot.Contains));
        Assert.True(followed >= 0 && followed < ReadaptWithin,
            $"the newly popular experts were all hot only after interval {followed} of the new mix (bound {ReadaptWithin})");

        TierStoreStats stats = await fixture.TierSet.GetStoreStatsAsync();
        Assert.True(stats.HotHighWaterBytes <= fixture.HotBudget, $"hot high water {stats.HotHighWaterBytes} over the budget {fixture.HotBudget}");
    }

    /// <summary>
    /// One interval: the mix's prompts served one at a time (a batch of several would call nearly every expert
    /// every step, and hide which experts the mix itself needs), each checked against the reference, then the
    /// controllers' interval.
    /// </summary>
    async Task<HashSet<string>> IntervalAsync(string[] prompts, string mix, int interval)
    {
        var answers = new List<GenerateResponse>();
        foreach (string prompt in prompts)
            answers.Add(await fixture.Router.GenerateAsync(new GenerateRequest
            {
                Prompt = prompt,
                Sampling = SamplingParameters.Greedy(Tokens) with { StopTokenIds = [] },
                IncludeLogits = true,
            }));
        ControllerStatus status = await fixture.Controller.TickAsync();
        Assert.Null(status.LastError);
        for (int i = 0; i < prompts.Length; i++)
            ServingAssertions.MatchesReference(fixture.ReferenceRun(prompts[i], SamplingOptions.Greedy with { MaxTokens = Tokens, StopTokenIds = [] }), answers[i]);
        TierSetView view = await fixture.TierSet.GetAsync();
        Assert.True(view.HotBytesUsed <= view.HotBudgetBytes, $"hot {view.HotBytesUsed} over the budget {view.HotBudgetBytes}");
        HashSet<string> hot = Hot(view);
        output.WriteLine($"{mix} interval {interval}: TierSet v{view.Version}, hot: {string.Join(" ", hot.Order())}");
        return hot;
    }

    static HashSet<string> Hot(TierSetView view) => view.Tiers.Where(t => t.Value == "hot").Select(t => t.Key).ToHashSet();

    static Dictionary<string, long> Uses(TierControlState state) => state.Experts.ToDictionary(e => e.Expert, e => e.Uses);
}
