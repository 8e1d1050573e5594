using MoeRuntime.Serving.Tiers;
using static MoeRuntime.Serving.Tests.Tiers.DefaultCheckpoint;
using static MoeRuntime.Serving.Tests.Tiers.StoreTesting;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Tests.Tiers;

/// <summary>TierSets applied live, and budgets under concurrent acquisitions, prefetches and TierSets.</summary>
[Collection(DefaultCheckpointCollection.Name)]
public class TierSetApplyTests(DefaultCheckpoint defaultCheckpoint)
{
    static readonly ExpertKey A = Key(1, 0), B = Key(1, 1), C = Key(1, 2), D = Key(1, 3);
    static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task ApplyingMovesExpertsLiveWhileLeaseHoldersFinishOnTheirTensors()
    {
        using var checkpoint = defaultCheckpoint.Open();
        using var store = Store(checkpoint, hotExperts: 3, warmExperts: 2);
        store.Register(A, Tier.Hot);
        store.Register(B, Tier.Warm);
        store.Register(C);
        store.Register(D);
        using Tensor tokens = Tokens(checkpoint.Config.HiddenSize);
        var expected = new[] { A, B, C }.ToDictionary(k => k, k => ReferenceOutputs(checkpoint, k, tokens));
        var leases = new Dictionary<ExpertKey, ExpertLease>();
        foreach (var key in expected.Keys) leases[key] = await store.AcquireAsync(key, None);

        // A is demoted while leased; B (a transient copy now) becomes assigned hot; D needs the room A's lease holds.
        var budgets = store.Snapshot().Hot.BudgetBytes;
        var tierSet = TierSet(ModelName, 1, new TierBudgets(budgets, store.Snapshot().Warm.BudgetBytes),
            (A, Tier.Cold), (B, Tier.Hot), (C, Tier.Warm), (D, Tier.Hot));
        var applying = store.ApplyAsync(tierSet, None);
        await Eventually.UntilAsync(() => store.Snapshot().Counters.RoomWaits > 0, "D's promotion waits for room", Patience);
        Assert.False(applying.IsCompleted);
        foreach (var (key, lease) in leases) Assert.Equal(expected[key], Outputs(lease.Expert, tokens));

        leases[A].Dispose();
        await applying;
        Assert.Equal(expected[C], Outputs(leases[C].Expert, tokens));
        leases[B].Dispose();
        leases[C].Dispose();

        var snapshot = store.Snapshot();
        Assert.Same(tierSet, snapshot.TierSet);
        foreach (var (key, tier) in tierSet.Assignment)
        {
            Assert.Equal(tier, snapshot.Expert(key).Resident);
            Assert.Equal(tier, snapshot.Expert(key).Assigned);
        }
        Assert.Equal(0, snapshot.Expert(A).HotBytes);
        Assert.Equal(0, snapshot.Expert(B).WarmBytes);
        Assert.True(snapshot.Expert(C).WarmBytes > 0);
        Assert.Equal(1, snapshot.Counters.PlannedEvictions);
        Assert.True(snapshot.Hot.HighWaterBytes <= snapshot.Hot.BudgetBytes);
        using var promoted = await store.AcquireAsync(D, None);
        Assert.Equal(Tier.Hot, promoted.FoundIn);
        Assert.Equal(ReferenceOutputs(checkpoint, D, tokens), Outputs(promoted.Expert, tokens));
    }

    [Fact]
    public async Task ApplyingRejectsStaleVersionsUnknownExpertsAndAssignmentsOverTheBudgets()
    {
        using var checkpoint = defaultCheckpoint.Open();
        using var store = Store(checkpoint, hotExperts: 1, warmExperts: 1);
        foreach (var key in new[] { A, B }) store.Register(key);
        var budgets = new TierBudgets(store.Snapshot().Hot.BudgetBytes, store.Snapshot().Warm.BudgetBytes);
        await store.ApplyAsync(TierSet(ModelName, 2, budgets, (A, Tier.Hot)), None);

        var stale = await Assert.ThrowsAsync<StaleTierSetException>(() => store.ApplyAsync(TierSet(ModelName, 2, budgets, (B, Tier.Hot)), None));
        Assert.Equal((2, 2), (stale.Version, stale.AppliedVersion));
        await Assert.ThrowsAsync<StaleTierSetException>(() => store.ApplyAsync(TierSet(ModelName, 1, budgets), None));
        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => store.ApplyAsync(TierSet(ModelName, 3, budgets, (Key(3, 7), Tier.Warm)), None));
        Assert.Contains("3/7", unknown.Message);
        var over = await Assert.ThrowsAsync<ArgumentException>(() => store.ApplyAsync(TierSet(ModelName, 3, budgets, (A, Tier.Hot), (B, Tier.Hot)), None));
        Assert.Contains($"{2 * store.SizeOf(A).HotBytes} bytes to the hot tier", over.Message);
        Assert.Contains($"hot budget of {budgets.HotBytes} bytes", over.Message);

        var snapshot = store.Snapshot();
        Assert.Equal(2, snapshot.TierSet!.Version);
        Assert.Equal(Tier.Hot, snapshot.Expert(A).Resident);
        Assert.Equal(Tier.Cold, snapshot.Expert(B).Resident);
        await store.ApplyAsync(TierSet(ModelName, 3, budgets, (A, Tier.Warm), (B, Tier.Hot)), None);
        Assert.Equal([Tier.Warm, Tier.Hot], new[] { A, B }.Select(k => store.Snapshot().Expert(k).Resident).ToArray());
    }

    [Fact]
    public async Task BudgetsHoldUnderConcurrentAcquisitionsPrefetchesAndTierSets()
    {
        using var checkpoint = defaultCheckpoint.Open();
        using var store = Store(checkpoint, hotExperts: 3, warmExperts: 8);
        var keys = AllKeys;
        for (int k = 0; k < keys.Count; k++) store.Register(keys[k], k == 0 ? Tier.Hot : k <= 4 ? Tier.Warm : Tier.Cold);
        var budgets = new TierBudgets(store.Snapshot().Hot.BudgetBytes, store.Snapshot().Warm.BudgetBytes);
        var first = TierSet(ModelName, 1, budgets, [(keys[5], Tier.Hot), .. keys.Skip(10).Take(4).Select(k => (k, Tier.Warm))]);
        var second = TierSet(ModelName, 2, budgets, [(keys[0], Tier.Hot), (keys[1], Tier.Hot), .. keys.Skip(20).Take(8).Select(k => (k, Tier.Warm))]);
        using Tensor tokens = Tokens(checkpoint.Config.HiddenSize, n: 2);
        long overruns = 0;
        void Check()
        {
            var snapshot = store.Snapshot();
            if (snapshot.Hot.UsedBytes > snapshot.Hot.BudgetBytes || snapshot.Warm.UsedBytes > snapshot.Warm.BudgetBytes)
                Interlocked.Increment(ref overruns);
        }

        var acquisitions = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            if (i % 5 == 0) store.Prefetch(keys[i * 11 % keys.Count]);
            using var lease = await store.AcquireAsync(keys[i * 7 % keys.Count], None);
            await Task.Yield();
            using Tensor output = lease.Expert.Forward(tokens);
            Assert.Equal(tokens.shape, output.shape);
            Check();
        }));
        var tierSets = Task.Run(async () =>
        {
            await store.ApplyAsync(first, None);
            Check();
            await store.ApplyAsync(second, None);
        });
        await Task.WhenAll([.. acquisitions, tierSets]);

        var final = store.Snapshot();
        Assert.Equal(0, overruns);
        Assert.InRange(final.Hot.HighWaterBytes, budgets.HotBytes - store.SizeOf(keys[0]).HotBytes + 1, budgets.HotBytes);
        Assert.InRange(final.Warm.HighWaterBytes, 1, budgets.WarmBytes);
        Assert.Equal(200, final.Counters.Hits + final.Counters.MissesFromWarm + final.Counters.MissesFromCold);
        Assert.All(final.Experts, e => Assert.Equal(0, e.Leases));
        Assert.All(final.Experts, e => Assert.Equal(second.Assignment.GetValueOrDefault(e.Key, Tier.Cold), e.Resident));
        Assert.True(final.Counters.ForcedEvictions > 0);
    }
}
