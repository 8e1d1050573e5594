using MoeRuntime.Control.Replay;

namespace MoeRuntime.Control.Tests.Replay;

public class BeladyOptimalityTests
{
    /// <summary>The fewest misses any demand policy can have: every choice of victim tried, memoised on (access, hot set).</summary>
    static int BruteForceMisses(ReplayTrace trace, int layer, int capacity)
    {
        var sequence = new List<int>();
        for (int s = 0; s < trace.Steps; s++) sequence.AddRange(trace.Needed(s, layer).ToArray());
        var memo = new Dictionary<(int, int), int>();
        int Solve(int at, int hot)
        {
            if (at == sequence.Count) return 0;
            if (memo.TryGetValue((at, hot), out int known)) return known;
            int bit = 1 << sequence[at], best;
            if ((hot & bit) != 0) best = Solve(at + 1, hot);
            else if (System.Numerics.BitOperations.PopCount((uint)hot) < capacity) best = 1 + Solve(at + 1, hot | bit);
            else
            {
                best = int.MaxValue;
                for (int victim = 0; victim < 32; victim++)
                    if ((hot & (1 << victim)) != 0) best = Math.Min(best, 1 + Solve(at + 1, (hot & ~(1 << victim)) | bit));
            }
            return memo[(at, hot)] = best;
        }
        return Solve(0, 0);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    [InlineData(4, 3)]
    [InlineData(5, 1)]
    [InlineData(6, 3)]
    [InlineData(7, 4)]
    [InlineData(8, 2)]
    public void Belady_equals_the_brute_force_optimum_on_tiny_traces(int seed, int capacity)
    {
        ReplayTrace trace = MixtralLikeTraces.Random(seed, steps: 12, layers: 2, experts: 6);
        ReplayResult belady = ReplaySimulator.Replay(trace, new BeladyPolicy(), new ReplayOptions { CapacityPerLayer = capacity });
        int optimum = BruteForceMisses(trace, 0, capacity) + BruteForceMisses(trace, 1, capacity);
        Assert.Equal(optimum, belady.Misses);
    }

    [Fact]
    public void Belady_hits_at_least_as_often_as_every_other_policy_on_random_traces()
    {
        for (int seed = 0; seed < 40; seed++)
        {
            ReplayTrace trace = MixtralLikeTraces.Random(seed, steps: 150, layers: 3, experts: 3 + seed % 6);
            int capacity = 1 + seed % Math.Max(1, trace.Experts - 1);
            var options = new ReplayOptions { CapacityPerLayer = capacity };
            long belady = ReplaySimulator.Replay(trace, new BeladyPolicy(), options).Hits;
            foreach (IReplayPolicy other in new IReplayPolicy[] { new LruPolicy(), new LfuPolicy(), new RandomPolicy(seed) })
                Assert.True(belady >= ReplaySimulator.Replay(trace, other, options).Hits, $"seed {seed}: {other.Name} beat Belady");
        }
    }

    [Fact]
    public void On_mixtral_like_skew_belady_leads_lru_by_several_points()
    {
        ReplayTrace trace = MixtralLikeTraces.Generate(seed: 11);
        var options = new ReplayOptions { CapacityPerLayer = 4, ExpertBytes = trace.ExpertBytes ?? 0 };
        ReplayResult lru = ReplaySimulator.Replay(trace, new LruPolicy(), options);
        ReplayResult lfu = ReplaySimulator.Replay(trace, new LfuPolicy(), options);
        ReplayResult belady = ReplaySimulator.Replay(trace, new BeladyPolicy(), options);
        Assert.True(belady.HitRate - lru.HitRate > 0.05, $"LRU {lru.HitRate:P1}, Belady {belady.HitRate:P1}");
        Assert.True(belady.HitRate >= lfu.HitRate);
        Assert.True(belady.BytesMoved < lru.BytesMoved);
    }

    /// <summary>Evicts a random candidate: a policy with no sense at all, which Belady must still beat.</summary>
    sealed class RandomPolicy(int seed) : ReplayPolicy
    {
        readonly Random _random = new(seed);
        public override string Name => "random";
        public override int ChooseVictim(int layer, ReadOnlySpan<int> candidates, long time) => candidates[_random.Next(candidates.Length)];
    }
}
