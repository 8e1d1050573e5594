using MoeRuntime.Control.Replay;

namespace MoeRuntime.Control.Tests.Replay;

public class ReplayPolicyTests
{
    static ReplayTrace OneLayer(int experts, params int[][] steps) =>
        ReplayTrace.FromSteps(1, experts, steps.Select(s => new IReadOnlyList<int>[] { s }));

    static ReplayResult Replay(ReplayTrace trace, IReplayPolicy policy, int capacity, bool prefetch = false, double accuracy = 1) =>
        ReplaySimulator.Replay(trace, policy, new ReplayOptions { CapacityPerLayer = capacity, ExpertBytes = 100, FetchMilliseconds = 3, Prefetch = prefetch, PrefetchAccuracy = accuracy });

    [Fact]
    public void Lru_lfu_and_belady_on_a_hand_computed_sequence()
    {
        // A B A C B A with two slots.
        // LRU: A- B- A+ C-(evicts B) B-(evicts A) A-(evicts C): 1 hit.
        // LFU: A- B- A+(A:2) C-(evicts B:1) B-(evicts C:1, B's count kept: 2) A+: 2 hits.
        // Belady: A- B- A+ C-(A next at 5, B at 4: evicts A) B+ A-: 2 hits.
        ReplayTrace trace = OneLayer(3, [0], [1], [0], [2], [1], [0]);
        Assert.Equal(1, Replay(trace, new LruPolicy(), 2).Hits);
        Assert.Equal(2, Replay(trace, new LfuPolicy(), 2).Hits);
        Assert.Equal(2, Replay(trace, new BeladyPolicy(), 2).Hits);
    }

    [Fact]
    public void Lfu_keeps_the_popular_expert_through_a_scan_that_flushes_lru()
    {
        // A is used three times, then B C D E scan through, then A again: LRU has lost A, LFU has not.
        ReplayTrace trace = OneLayer(5, [0], [0], [0], [1], [2], [3], [4], [0]);
        Assert.Equal(2, Replay(trace, new LruPolicy(), 2).Hits);
        Assert.Equal(3, Replay(trace, new LfuPolicy(), 2).Hits);
        // LFU ties go to the least recently used: 1 and 2 have one use each, so 3 evicts 1 and 2 still hits.
        ReplayTrace ties = OneLayer(4, [1], [2], [3], [2]);
        Assert.Equal(1, Replay(ties, new LfuPolicy(), 2).Hits);
    }

    [Fact]
    public void Experts_needed_together_are_not_evicted_for_each_other()
    {
        // Step 3 needs {0, 1} with 1 hot and 0 not: the miss on 0 must evict 2, not the pending 1.
        ReplayTrace trace = OneLayer(3, [1], [2], [0, 1]);
        ReplayResult lru = Replay(trace, new LruPolicy(), 2);
        Assert.Equal(1, lru.Hits);
        Assert.Equal(3, lru.Misses);
    }

    [Fact]
    public void Bytes_and_stall_follow_from_the_counts()
    {
        ReplayTrace trace = OneLayer(4, [0, 1], [2], [0], [3, 1]);
        ReplayResult r = Replay(trace, new LruPolicy(), 2);
        Assert.Equal(6, r.Accesses);
        Assert.Equal(r.Accesses, r.Hits + r.Misses);
        Assert.Equal(r.Misses * 100, r.BytesMoved);
        Assert.Equal(r.Misses * 3.0, r.StallMilliseconds);
        Assert.Equal((double)r.Hits / r.Accesses, r.HitRate);
        Assert.True(double.IsNaN(r.PrefetchHitRate));
        Assert.Equal(0, r.WastedBytes);
    }

    [Fact]
    public void Perfect_prefetch_with_room_for_everything_is_always_used()
    {
        // Two layers, every expert fits: layer 1's experts are prefetched after layer 0 and all hit.
        ReplayTrace trace = ReplayTrace.FromSteps(2, 4, [[[0], [1, 2]], [[1], [3]], [[0], [1]]]);
        ReplayResult r = Replay(trace, new LruPolicy(), 4, prefetch: true, accuracy: 1);
        Assert.Equal(3, r.PrefetchFetches);    // 1, 2, 3 (1 is hot again at step 3)
        Assert.Equal(3, r.PrefetchUsed);
        Assert.Equal(0, r.PrefetchWasted);
        Assert.Equal(1.0, r.PrefetchHitRate);
        Assert.Equal(2, r.Misses);             // only layer 0's first uses of 0 and 1
        Assert.Equal((2 + 3) * 100, r.BytesMoved);
        Assert.Equal(2 * 3.0, r.StallMilliseconds);
    }

    [Fact]
    public void Wrong_predictions_are_wasted_bytes()
    {
        ReplayTrace trace = ReplayTrace.FromSteps(2, 4, [[[0], [1]], [[1], [1]], [[2], [2]]]);
        ReplayResult r = Replay(trace, new LruPolicy(), 1, prefetch: true, accuracy: 0);
        Assert.Equal(0, r.PrefetchUsed);
        Assert.Equal(r.PrefetchFetches, r.PrefetchWasted);
        Assert.Equal(r.PrefetchWasted * 100, r.WastedBytes);
        Assert.Equal(0, r.Hits);               // one slot: each wrong guess evicted what would have hit
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Prefetch_accounting_balances_on_random_traces(int seed)
    {
        ReplayTrace trace = MixtralLikeTraces.Random(seed, 200, 3, 6);
        foreach (IReplayPolicy policy in new IReplayPolicy[] { new LruPolicy(), new LfuPolicy(), new BeladyPolicy() })
        {
            ReplayResult r = ReplaySimulator.Replay(trace, policy, new ReplayOptions { CapacityPerLayer = 3, ExpertBytes = 10, Prefetch = true, PrefetchAccuracy = 0.7, Seed = seed });
            Assert.Equal(r.PrefetchFetches, r.PrefetchUsed + r.PrefetchWasted);
            Assert.Equal(r.Accesses, r.Hits + r.Misses);
            Assert.Equal((r.Misses + r.PrefetchFetches) * 10, r.BytesMoved);
        }
    }

    [Fact]
    public void Predictions_do_not_depend_on_the_policy()
    {
        // Same seed, same trace: with room for everything, every policy prefetches exactly the same experts.
        ReplayTrace trace = MixtralLikeTraces.Random(9, 100, 3, 5);
        var options = new ReplayOptions { CapacityPerLayer = 5, Prefetch = true, PrefetchAccuracy = 0.5, Seed = 4 };
        long[] fetches = new IReplayPolicy[] { new LruPolicy(), new LfuPolicy(), new BeladyPolicy() }
            .Select(p => ReplaySimulator.Replay(trace, p, options).PrefetchFetches).Distinct().ToArray();
        Assert.Single(fetches);
    }
}
