using MoeRuntime.Serving.Tiers;
using static MoeRuntime.Serving.Tests.Tiers.DefaultCheckpoint;
using static MoeRuntime.Serving.Tests.Tiers.StoreTesting;

namespace MoeRuntime.Serving.Tests.Tiers;

/// <summary>Per-layer prefetch accounting: issued, used and wasted bytes, and the time misses waited, by the expert's layer.</summary>
[Collection(DefaultCheckpointCollection.Name)]
public class PrefetchLayerCountsTests(DefaultCheckpoint defaultCheckpoint)
{
    [Fact]
    public async Task PrefetchOutcomesAndStallsAreCountedPerLayer()
    {
        using var checkpoint = defaultCheckpoint.Open();
        var step = TimeSpan.FromMilliseconds(3);
        using var store = Store(checkpoint, hotExperts: 2, warmExperts: 0, new SteppingTime(step));
        ExpertKey x = Key(1, 0), y = Key(1, 1), z = Key(2, 0);
        foreach (var key in new[] { x, y, z }) store.Register(key);
        var (hot, _) = store.SizeOf(x);
        Guid epoch = store.PrefetchEpoch;
        Assert.All(store.PrefetchByLayer(), l => Assert.Equal(new PrefetchLayerCounts(l.Layer, 0, 0, 0, 0, 0), l));

        async Task Use(ExpertKey key)
        {
            using var lease = await store.AcquireAsync(key, CancellationToken.None);
        }
        async Task PrefetchAndWait(ExpertKey key)
        {
            store.Prefetch(key);
            await Eventually.UntilAsync(() => store.Snapshot().Expert(key) is { HotBytes: > 0, Fetching: false }, $"{key} is prefetched", Patience);
        }

        await Use(x);                 // layer 1 stalls once
        await PrefetchAndWait(z);
        await Use(z);                 // layer 2's prefetch used
        await PrefetchAndWait(y);     // evicts x
        await Use(x);                 // layer 1 stalls again, evicts z
        await Use(z);                 // layer 2 stalls, evicts y unused: layer 1's prefetch wasted

        PrefetchLayerCounts[] layers = store.PrefetchByLayer();
        Assert.Equal(checkpoint.Config.LayerCount, layers.Length);
        Assert.Equal(new PrefetchLayerCounts(0, 0, 0, 0, 0, 0), layers[0]);
        Assert.Equal((1, 0, hot, 0), (layers[1].Issued, layers[1].UsedBytes, layers[1].WastedBytes, layers[1].Failures));
        Assert.Equal(2 * step.TotalSeconds, layers[1].StallSeconds, 9);
        Assert.Equal((1, hot, 0, 0), (layers[2].Issued, layers[2].UsedBytes, layers[2].WastedBytes, layers[2].Failures));
        Assert.Equal(step.TotalSeconds, layers[2].StallSeconds, 9);
        Assert.Equal(epoch, store.PrefetchEpoch);

        var counters = store.Snapshot().Counters;
        Assert.Equal(counters.PrefetchIssued, layers.Sum(l => l.Issued));
        Assert.Equal(counters.PrefetchUsed * hot, layers.Sum(l => l.UsedBytes));
        Assert.Equal(counters.PrefetchWasted * hot, layers.Sum(l => l.WastedBytes));
        Assert.Equal(counters.FetchSecondsFromCold + counters.FetchSecondsFromWarm, layers.Sum(l => l.StallSeconds), 9);
    }
}
